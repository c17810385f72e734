"""Outcome rewards: Search-R1 normalization, EM / sub-EM / F1, numbers, the format-aware table."""

from __future__ import annotations

import random
import string

import pytest

from agentgym.core import Task
from agentgym.rewards.base import score_batch
from agentgym.rewards.outcome import (
    F1,
    ExactMatch,
    NumericMatch,
    SearchR1Format,
    SubExactMatch,
    exact_match,
    extract_answer,
    f1_score,
    gold_answers,
    is_retrieval_correct,
    is_valid_sequence,
    normalize_answer,
    numeric_match,
    parse_number,
    search_r1_em_score,
    search_r1_format_score,
    sub_exact_match,
)
from agentgym.trajectory import Step, Trajectory


def said(text: str | None) -> Trajectory:
    """A one-message trajectory whose final answer is ``text`` (no answer when None)."""
    content = "I give up." if text is None else f"<think>done</think><answer>{text}</answer>"
    return Trajectory(env_id="t", task_id="q", messages=[{"role": "assistant", "content": content}])


TASK = Task(id="q", prompt="Which tower is in Paris?", gold={"answer": "Eiffel Tower"})

# --- Search-R1's worked examples -----------------------------------------------------------


def test_normalize_answer_worked_examples():
    # Search-R1's code (verified): article and punctuation removal
    assert normalize_answer("The Eiffel Tower!") == "eiffel tower"
    # Search-R1's code (verified): leading article, commas, inner articles, outer whitespace
    assert normalize_answer("  An apple, a Day ") == "apple day"


def _valid(answer: str) -> str:
    """A full valid Search-R1 response: think, search, information, think, answer."""
    return (
        "<think>I need to search.</think>\n<search>tower in Paris</search>\n\n"
        "<information>Doc 1(Title: Paris) The Eiffel Tower is a landmark.</information>\n\n"
        f"<think>Found it.</think>\n<answer>{answer}</answer>"
    )


def _invalid(answer: str) -> str:
    """Same content with text outside tags, which breaks the sequence."""
    return f"Sure! <think>thinking</think> here is my answer <answer>{answer}</answer>"


def test_search_r1_format_worked_examples():
    golds = ["Eiffel Tower"]
    # Search-R1's code: full valid trajectory answering "the Eiffel tower." -> 1.0
    assert search_r1_format_score(_valid("the Eiffel tower."), golds) == 1.0
    # Search-R1's code: answering "Louvre" -> 0.2 with the format reward...
    assert search_r1_format_score(_valid("Louvre"), golds) == 0.2
    # ...and 0 without it (all format scores 0)
    assert (
        search_r1_format_score(
            _valid("Louvre"), golds, structure_format_score=0.0, final_format_score=0.0
        )
        == 0.0
    )
    # Search-R1's code: answer right but invalid structure -> 0.8
    assert search_r1_format_score(_invalid("the Eiffel tower."), golds) == pytest.approx(0.8)
    # Search-R1's code: answer wrong and invalid -> 0.1
    assert search_r1_format_score(_invalid("Louvre"), golds) == 0.1


def test_search_r1_format_table_rows_without_answer():
    golds = ["Eiffel Tower"]
    # table: no answer, valid format -> structure score 0.2 (think/search/information only: the
    # code's state machine needs <answer> to end, so the prompt-less case is "answer tags < 2")
    assert search_r1_format_score(_valid("Eiffel Tower"), golds, min_answer_tags=2) == 0.2
    # same, with the retrieval bonus switched on: the information block holds the gold -> 0.2 + 0.1
    assert search_r1_format_score(
        _valid("Eiffel Tower"), golds, min_answer_tags=2, retrieval_score=0.1
    ) == pytest.approx(0.3)
    # table: no answer, invalid format -> 0
    assert search_r1_format_score("no tags at all", golds) == 0.0
    # wrong answer, valid, retrieval correct -> 0.2 + retrieval_score
    assert search_r1_format_score(_valid("Louvre"), golds, retrieval_score=0.1) == pytest.approx(
        0.3
    )


def test_search_r1_em_gotcha_prompt_absent():
    # Search-R1's code (verified): compute_score_em("<answer>Eiffel Tower</answer>") is 0 without
    # the prompt
    assert search_r1_em_score("<answer>Eiffel Tower</answer>", ["Eiffel Tower"]) == 0.0
    # with the prompt's example answer as match #1, the last answer counts -> 1
    prompt = "For example, <answer> Beijing </answer>. Question: ...<|im_start|>assistant\n"
    assert search_r1_em_score(prompt + "<answer>Eiffel Tower</answer>", ["Eiffel Tower"]) == 1.0
    # a wrong answer gets format_score (default 0)
    assert (
        search_r1_em_score(prompt + "<answer>Louvre</answer>", ["Eiffel Tower"], format_score=0.1)
        == 0.1
    )


def test_format_score_reproduces_code_on_prompt_plus_response():
    prompt = (
        "Answer inside <answer> and </answer>. For example, <answer> Beijing </answer>."
        "<|im_start|>assistant\n"
    )
    # code input: prompt + response, two answer tags needed, validity checked after the marker
    assert (
        search_r1_format_score(
            prompt + _valid("the Eiffel tower."), ["Eiffel Tower"], min_answer_tags=2
        )
        == 1.0
    )
    # the prompt's own example answer is never the scored one
    assert search_r1_format_score(prompt + _valid("Beijing"), ["Beijing"], min_answer_tags=2) == 1.0
    assert search_r1_format_score(prompt + _valid("Louvre"), ["Beijing"], min_answer_tags=2) == 0.2


# --- string-level edge cases -----------------------------------------------------------------


def test_exact_match_edge_cases():
    # aliases: any alias counts
    assert exact_match("City of Light", ["Paris", "City of Light"]) == 1.0
    # a bare string gold works like a one-element list
    assert exact_match("paris", "Paris") == 1.0
    # extra words fail EM
    assert exact_match("Paris, France", "Paris") == 0.0
    # None (never answered) scores 0
    assert exact_match(None, "Paris") == 0.0
    # no golds: nothing matches
    assert exact_match("Paris", []) == 0.0
    # punctuation inside words is deleted, not spaced: "U.S.A." == "USA"
    assert exact_match("U.S.A.", "usa") == 1.0
    # articles only as whole words: "theater" keeps its "the"
    assert exact_match("theater", "ater") == 0.0


def test_sub_exact_match_edge_cases():
    # gold inside a longer answer
    assert sub_exact_match("The answer is the Eiffel Tower.", "Eiffel Tower") == 1.0
    # partial gold is not enough
    assert sub_exact_match("Eiffel", "Eiffel Tower") == 0.0
    # a gold that normalizes to "" never matches (guard against "" in s)
    assert sub_exact_match("anything", ["The", "a"]) == 0.0
    # None scores 0
    assert sub_exact_match(None, "x") == 0.0


def test_f1_edge_cases():
    # P = 1/2, R = 1 -> 2/3
    assert f1_score("Paris France", "Paris") == pytest.approx(2 / 3)
    # repeated tokens count once per occurrence (multiset overlap): P = 1/3, R = 1 -> 0.5
    assert f1_score("paris paris paris", "paris") == pytest.approx(0.5)
    # both empty after normalization -> 1 (SQuAD v2 rule)
    assert f1_score("The", "a") == 1.0
    # one side empty -> 0
    assert f1_score("", "Paris") == 0.0
    # best alias counts
    assert f1_score("Louvre", ["Eiffel Tower", "Louvre"]) == 1.0
    # None scores 0
    assert f1_score(None, "Paris") == 0.0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42.0),  # plain integer
        ("1,234,567", 1234567.0),  # thousands separators
        ("-3.5", -3.5),  # negative decimal
        ("\u22127", -7.0),  # Unicode minus
        ("35%", 35.0),  # percent sign ignored: 35, not 0.35
        ("$1,200.50", 1200.5),  # currency symbol
        ("-$5", -5.0),  # sign before currency
        ("12 km", 12.0),  # unit stripped
        ("2.3 million", 2.3e6),  # scale word
        ("1.5e3", 1500.0),  # exponent
        (".5", 0.5),  # leading decimal point
        ("in 2019 it had 5,000", 5000.0),  # the last number counts
        ("2020-2021", 2021.0),  # a hyphen between numbers is not a minus sign
        ("A4 paper", None),  # digits glued to letters are not a number
        ("no number", None),  # nothing to parse
        ("", None),  # empty
    ],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


def test_numeric_match_edge_cases():
    # exact with separators on one side only
    assert numeric_match("1234567", "1,234,567") == 1.0
    # relative tolerance
    assert numeric_match("67.4 million", "67,750,000", rel_tol=0.01) == 1.0
    assert numeric_match("67.4 million", "67,750,000") == 0.0
    # absolute tolerance around zero
    assert numeric_match("0.001", "0", abs_tol=0.01) == 1.0
    # numeric golds
    assert numeric_match("-12", [-12, 7]) == 1.0
    # sign matters
    assert numeric_match("12", "-12") == 0.0
    # no number in the prediction
    assert numeric_match("twelve", "12") == 0.0
    # None scores 0
    assert numeric_match(None, "12") == 0.0


def test_is_valid_sequence_edge_cases():
    # minimal valid sequence
    assert is_valid_sequence("<think>x</think><answer>y</answer>")[0]
    # whitespace between tags is fine
    assert is_valid_sequence(" <think>x</think>\n\n <answer>y</answer>\n")[0]
    # answer without think first
    assert not is_valid_sequence("<answer>y</answer>")[0]
    # unbalanced tags
    assert is_valid_sequence("<think>x</think><answer>y")[1].startswith("Mismatch in answer tags")
    # text after the answer
    assert not is_valid_sequence("<think>x</think><answer>y</answer> thanks")[0]
    # search without information ends in the wrong state
    assert not is_valid_sequence("<think>x</think><search>q</search><answer>y</answer>")[0]
    # the assistant marker: only what follows it is checked
    assert is_valid_sequence(
        "prompt junk <|im_start|>assistant\n<think>x</think><answer>y</answer>"
    )[0]


def test_extract_answer_and_retrieval():
    # last answer wins
    assert extract_answer("<answer>a</answer><answer> b </answer>") == "b"
    # none present
    assert extract_answer("nothing") is None
    # retrieval: normalized gold inside an information block
    assert is_retrieval_correct("<information>the EIFFEL tower!</information>", ["Eiffel Tower"])
    # gold outside information blocks does not count
    assert not is_retrieval_correct(
        "Eiffel Tower <information>Louvre</information>", ["Eiffel Tower"]
    )


# --- trajectory-level rewards ----------------------------------------------------------------


def test_gold_answers():
    # answer string plus aliases, de-duplicated
    task = Task(id="q", prompt="?", gold={"answer": "Paris", "aliases": ["Paris", "City of Light"]})
    assert gold_answers(task) == ["Paris", "City of Light"]
    # answer given as a list
    assert gold_answers(Task(id="q", prompt="?", gold={"answer": ["a", "b"]})) == ["a", "b"]
    # no gold at all
    assert gold_answers(Task(id="q", prompt="?")) == []


def test_answer_rewards_on_trajectories():
    # EM of the final <answer>
    assert ExactMatch()(said("the Eiffel tower."), TASK).value == 1.0
    # never answered -> 0 for every answer reward
    for reward in (ExactMatch(), SubExactMatch(), F1(), NumericMatch()):
        result = reward(said(None), TASK)
        assert result.value == 0.0
        assert result.details["answer"] is None
    # sub-EM and F1 on a longer answer
    assert SubExactMatch()(said("It is the Eiffel Tower"), TASK).value == 1.0
    assert F1()(said("Eiffel Tower Paris"), TASK).value == pytest.approx(0.8)
    # the final tool call the env recorded wins over message text
    step = Step(
        action="...", info={"final": {"name": "answer", "arguments": {"text": "Eiffel Tower"}}}
    )
    assert ExactMatch()(Trajectory(env_id="t", task_id="q", steps=[step]), TASK).value == 1.0
    # numeric gold from a number
    numeric_task = Task(id="n", prompt="?", gold={"answer": 1200})
    assert NumericMatch()(said("1,200 people"), numeric_task).value == 1.0


def test_rewards_do_not_mutate_inputs():
    trajectory, task = (
        said("Eiffel Tower"),
        Task(id="q", prompt="?", gold={"answer": ["Eiffel Tower"]}),
    )
    before = (trajectory.to_json(), dict(task.gold))
    for reward in (ExactMatch(), SubExactMatch(), F1(), NumericMatch(), SearchR1Format()):
        reward(trajectory, task)
    assert (trajectory.to_json(), dict(task.gold)) == before


def test_batch_equals_per_item():
    rng = random.Random(0)
    answers = ["Eiffel Tower", "the eiffel tower", "Louvre", None, "Eiffel", "1,200", "1200.0"]
    tasks = [TASK, Task(id="n", prompt="?", gold={"answer": "1200"})]
    trajectories = [said(rng.choice(answers)) for _ in range(200)]
    task_list = [rng.choice(tasks) for _ in range(200)]
    for reward in (ExactMatch(), SubExactMatch(), F1(), NumericMatch()):
        assert score_batch(reward, trajectories, task_list) == [
            reward(t, k) for t, k in zip(trajectories, task_list, strict=True)
        ]
    # mismatched lengths are an error
    with pytest.raises(ValueError):
        ExactMatch().batch(trajectories, task_list[:-1])


def test_search_r1_format_reward_on_trajectory():
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Which tower? For example, <answer> Beijing </answer>."},
        {"role": "assistant", "content": "<think>search it</think>\n<search>Paris tower</search>"},
        {"role": "tool", "content": "Doc 1(Title: Paris) The Eiffel Tower."},
        {"role": "assistant", "content": "<think>found</think>\n<answer>Eiffel Tower</answer>"},
    ]
    trajectory = Trajectory(env_id="t", task_id="q", messages=messages)
    result = SearchR1Format()(trajectory, TASK)
    # observations are wrapped in <information>, the sequence is valid, the answer right -> 1.0
    assert result.value == 1.0
    assert result.details["valid_format"] is True
    # without wrapping, the raw observation text breaks the sequence: right answer, invalid -> 0.8
    assert SearchR1Format(wrap_observations=False)(trajectory, TASK).value == pytest.approx(0.8)
    # the prompt's example answer in the user message is not part of the response
    assert result.details["answer"] == "Eiffel Tower"


def test_ranges_property():
    # seeded random responses: every reward stays in its documented range
    rng = random.Random(1234)
    pieces = [
        "<think>",
        "</think>",
        "<search>",
        "</search>",
        "<information>",
        "</information>",
        "<answer>",
        "</answer>",
        "Eiffel Tower",
        "Louvre",
        " ",
        "\n",
        "the",
        "42",
        ",",
        "-",
    ]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        golds = rng.choice([["Eiffel Tower"], ["42"], ["the"], ["Louvre", "Eiffel Tower"]])
        value = search_r1_format_score(text, golds)
        assert any(value == pytest.approx(allowed) for allowed in (0.0, 0.1, 0.2, 0.8, 1.0))
        for metric in (exact_match, sub_exact_match, f1_score, numeric_match):
            assert 0.0 <= metric(text, golds) <= 1.0
        # normalization is idempotent and has no punctuation or double spaces
        normalized = normalize_answer(text)
        assert normalize_answer(normalized) == normalized
        assert not set(normalized) & set(string.punctuation)
        assert "  " not in normalized
