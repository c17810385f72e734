"""LLM-judge outcome reward. Every judge here is a deterministic Python callable, not a model."""

from __future__ import annotations

import json
import random

import pytest

from agentgym.core import Task
from agentgym.rewards.base import score_batch
from agentgym.rewards.judge import (
    DEFAULT_TEMPLATE,
    MASTER_KEYS,
    REASONING_OPENERS,
    JudgeOutcome,
    build_judge_prompt,
    is_content_free,
    judge_answer,
    parse_verdict,
)
from agentgym.trajectory import Step, Trajectory


class CountingJudge:
    """Deterministic judge: always gives the same reply, and counts its calls."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.reply


def said(text: str | None) -> Trajectory:
    """A trajectory whose final answer is ``text`` (no answer when None)."""
    content = "I cannot answer." if text is None else f"<answer>{text}</answer>"
    return Trajectory(env_id="t", task_id="q", messages=[{"role": "assistant", "content": content}])


QUESTIONS = [
    Task(id="fr", prompt="What is the capital of France?", gold={"answer": "Paris"}),
    Task(id="sum", prompt="What is 17 + 25?", gold={"answer": "42"}),
    Task(
        id="bio",
        prompt="Who wrote Hamlet?",
        gold={"answer": "William Shakespeare", "aliases": ["Shakespeare"]},
    ),
]


# --- "One Token to Fool LLM-as-a-Judge" (arXiv 2507.08794): the standing master-key test ----------


def test_master_keys_are_the_suggested_ten():
    # the paper's suggested test set, in order
    assert MASTER_KEYS == (
        " ",
        ".",
        ",",
        ":",
        "Thought process:",
        "Let's solve this problem step by step.",
        "Solution",
        "解",
        "かいせつ",
        "Respuesta",
    )


@pytest.mark.parametrize("key", MASTER_KEYS)
@pytest.mark.parametrize("task", QUESTIONS, ids=lambda t: t.id)
def test_always_correct_judge_gives_every_master_key_zero(key, task):
    # a judge that ALWAYS says "correct" must still give 0 to every master key, for every
    # (question, reference), and must not even be asked
    judge = CountingJudge("verdict: correct")
    result = JudgeOutcome(judge)(said(key), task)
    assert result.value == 0.0
    assert result.details["skipped"] == "content-free answer"
    assert judge.prompts == []


@pytest.mark.parametrize("key", MASTER_KEYS)
def test_rule_and_judge_gate_gives_master_keys_zero(key):
    # the rule+judge gate: the judge (which ALWAYS says "correct", unguarded here) only counts
    # when a rule passes; the rule here is that the answer has content. Master keys fail it.
    from agentgym.rewards.base import RewardResult, final_answer
    from agentgym.rewards.compose import Gate

    def has_content(trajectory, task):
        return RewardResult(0.0 if is_content_free(final_answer(trajectory) or "") else 1.0)

    judge = CountingJudge("correct")
    gated = Gate(JudgeOutcome(judge, guard=False), gate=has_content)
    assert gated(said(key), QUESTIONS[0]).value == 0.0
    assert judge.prompts == []
    assert gated(said("Paris"), QUESTIONS[0]).value == 1.0  # a real answer reaches the judge


def test_master_key_false_positive_rate_is_zero():
    # FPR over all keys x questions with a fully fooled judge (the paper reports up to ~90%
    # for real judges): the guard makes it 0
    reward = JudgeOutcome(CountingJudge("correct"))
    results = [reward(said(key), task).value for key in MASTER_KEYS for task in QUESTIONS]
    assert sum(results) / len(results) == 0.0


def test_guard_variants():
    # case and trailing punctuation variants of the keys
    for text in (
        "SOLUTION:",
        "solution.",
        "thought process",
        "Let’s solve this problem step by step",
    ):
        assert is_content_free(text), text
    # punctuation / symbol / whitespace only
    for text in ("", "   \n\t", "...", "—", "?!", "**", "：", "()"):
        assert is_content_free(text), repr(text)
    # the extra openers
    for text in REASONING_OPENERS:
        assert is_content_free(text), text
    # None (never answered)
    assert is_content_free(None)
    # real answers, including ones starting with a key, are not content-free
    for text in (
        "Paris",
        "42",
        "Solution: 42",
        "解: 42",
        "Thought process: it is Paris",
        "0",
        "-1",
    ):
        assert not is_content_free(text), text
    # a custom blocklist replaces the default one
    assert not is_content_free("Solution", blocklist=["N/A"])
    assert is_content_free("n/a", blocklist=["N/A"])


def test_guard_off_lets_the_judge_decide():
    # with guard=False, the fooled judge is called and (wrongly) says correct: the guard matters
    judge = CountingJudge("verdict: correct")
    assert JudgeOutcome(judge, guard=False)(said(":"), QUESTIONS[0]).value == 1.0
    assert len(judge.prompts) == 1


# --- verdict parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("correct", True),  # bare word
        ("CORRECT", True),  # case
        ("Incorrect.", False),  # "incorrect" contains "correct": must read as False
        ("verdict: correct", True),  # default template's format
        ("Verdict: **INCORRECT**", False),  # markdown emphasis
        (
            "extracted_final_answer: Paris\nreasoning: ...\ncorrect: yes\nconfidence: 90%",
            True,
        ),  # BrowseComp
        ("correct: no", False),  # BrowseComp negative
        ('{"verdict": "correct"}', True),  # JSON word
        ('Here you go: {"correct": false, "why": "different city"}', False),  # JSON boolean
        ('{"score": 1}', True),  # JSON 0/1 score
        ('{"score": 0}', False),
        ("Yes", True),  # yes/no
        ("No, the response names a different city.", False),
        ("The response is not correct.", False),  # negation
        ("The answer is partially correct.", False),  # partial credit is not correct
        ("The response matches the reference, so it is correct.", True),  # one strong word
        ("It is wrong.", False),
        ("", None),  # empty
        ("   ", None),  # whitespace
        ("I am not sure.", None),  # no verdict
        ("It could be correct or it could be wrong.", None),  # both verdicts: unparseable
        (None, None),  # no reply at all
    ],
)
def test_parse_verdict(reply, verdict):
    assert parse_verdict(reply) is verdict


def test_unparseable_reply_scores_zero_with_a_detail():
    # the judge answers, but with no verdict: 0, and details say why
    result = JudgeOutcome(CountingJudge("Let me think about it..."))(said("Paris"), QUESTIONS[0])
    assert result.value == 0.0
    assert result.details["verdict"] is None
    assert "parse_error" in result.details
    assert result.details["reply"] == "Let me think about it..."


# --- prompt and scoring -------------------------------------------------------------------------


def test_prompt_holds_question_gold_and_response():
    judge = CountingJudge("verdict: correct")
    JudgeOutcome(judge)(said("Shakespeare"), QUESTIONS[2])
    (prompt,) = judge.prompts
    # the question, every alias, and the response are in the prompt
    assert "Who wrote Hamlet?" in prompt
    assert "William Shakespeare | Shakespeare" in prompt
    assert "Response: Shakespeare" in prompt
    # braces in answers do not break str.format
    assert "{x}" in build_judge_prompt("q", "g", "{x}")
    assert build_judge_prompt("q", "g", "r", template="{question}/{gold}/{response}") == "q/g/r"
    assert "{question}" in DEFAULT_TEMPLATE


def test_judge_outcome_values():
    def judge(prompt: str) -> str:
        # deterministic grader: correct iff the response line holds the reference answer
        reference = prompt.split("Reference answer: ")[1].split("\n")[0]
        response = prompt.split("Response: ")[1].split("\n")[0]
        return "verdict: correct" if reference.lower() in response.lower() else "verdict: incorrect"

    reward = JudgeOutcome(judge)
    # right answer
    assert reward(said("It is Paris."), QUESTIONS[0]).value == 1.0
    # wrong answer
    assert reward(said("Lyon"), QUESTIONS[0]).value == 0.0
    # never answered: 0 without a call
    counting = CountingJudge("verdict: correct")
    result = JudgeOutcome(counting)(said(None), QUESTIONS[0])
    assert (result.value, result.details["skipped"], counting.prompts) == (0.0, "no answer", [])
    # the env's final tool call is the answer
    step = Step(action="...", info={"final": {"name": "answer", "arguments": {"text": "Paris"}}})
    assert reward(Trajectory(env_id="t", task_id="q", steps=[step]), QUESTIONS[0]).value == 1.0


def test_judge_answer_pure_function():
    # the string-level core used by adapters
    value, details = judge_answer(lambda p: '{"verdict": "correct"}', "q?", ["a"], "a")
    assert (value, details["verdict"]) == (1.0, True)
    # None answer
    assert judge_answer(lambda p: "correct", "q?", "a", None) == (
        0.0,
        {"verdict": None, "skipped": "no answer"},
    )


def test_batch_threads_keep_order_and_match_serial():
    rng = random.Random(7)

    def judge(prompt: str) -> str:
        # deterministic and thread-safe: a pure function of the prompt
        return json.dumps({"verdict": "correct" if "Response: Paris" in prompt else "incorrect"})

    answers = ["Paris", "Lyon", ":", None, "Solution", "Paris"]
    trajectories = [said(rng.choice(answers)) for _ in range(60)]
    tasks = [QUESTIONS[0]] * 60
    serial = [JudgeOutcome(judge)(t, k) for t, k in zip(trajectories, tasks, strict=True)]
    threaded = score_batch(JudgeOutcome(judge, max_workers=4), trajectories, tasks)
    assert threaded == serial
    assert [r.value for r in serial].count(1.0) == sum(
        1 for t in trajectories if t.messages[0]["content"] == "<answer>Paris</answer>"
    )


def test_range_property():
    # seeded random answers and replies: the value is always 0 or 1, and content-free answers
    # never reach the judge
    rng = random.Random(99)
    replies = [
        "correct",
        "incorrect",
        "yes",
        "no",
        "",
        "maybe",
        '{"verdict": true}',
        "correct: yes",
    ]
    alphabet = ["Paris", " ", ".", ":", "Solution", "解", "42", "the", "!", "\n"]
    for _ in range(1000):
        judge = CountingJudge(rng.choice(replies))
        answer = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
        result = JudgeOutcome(judge)(said(answer), rng.choice(QUESTIONS))
        assert result.value in (0.0, 1.0)
        if is_content_free(answer):
            assert judge.prompts == [] and result.value == 0.0
