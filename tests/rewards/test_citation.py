"""Tests for CaRR citation-aware rubric rewards and C-GRPO (the worked example of CaRR)."""

from __future__ import annotations

import copy
import json
import random
import re

import pytest

from agentgym.core import Task
from agentgym.rewards.base import score_batch
from agentgym.rewards.citation import (
    CitationRubric,
    c_grpo_rewards,
    extract_citations,
    normalize_text,
    parse_json_reply,
    rubric_reachability,
    seen_urls,
)
from agentgym.trajectory import Step, Trajectory

AR = "https://factbook.local/argentina"
CL = "https://factbook.local/chile"
WC = "https://factbook.local/world-cup-1978"
NEVER = "https://elsewhere.example/argentina"

RUBRICS = [
    {
        "text": "<E0> is the capital of <E1>, which hosted <E2>.",
        "evidence_url": AR,
        "evidence": "Buenos Aires is the capital of Argentina, host of the 1978 FIFA World Cup.",
    },
    {
        "text": "<E1> borders Chile.",
        "evidence_url": CL,
        "evidence": "Argentina borders Chile to the west.",
    },
    {
        "text": "<E2> was won by the host nation.",
        "evidence_url": WC,
        "evidence": "The 1978 FIFA World Cup was won by the hosts.",
    },
    {
        "text": "<E3> in <E0> staged the final.",
        "evidence_url": WC,
        "evidence": "The final was played at the Estadio Monumental in Buenos Aires.",
    },
]
ENTITIES = {
    "E0": ["Buenos Aires", "Ciudad de Buenos Aires"],
    "E1": ["Argentina", "Argentine Republic"],
    "E2": ["1978 FIFA World Cup", "1978 World Cup"],
    "E3": ["Estadio Monumental", "El Monumental"],
}
TASK = Task(
    id="ds-1",
    prompt="Which capital city ... hosted a World Cup ...?",
    gold={"answer": "Buenos Aires", "rubrics": RUBRICS, "entities": ENTITIES},
)


def call(name: str, **arguments: str) -> dict:
    return {"name": name, "arguments": arguments, "id": f"call-{name}"}


def search_step() -> Step:
    listing = "\n".join(
        [
            f"[1] Argentina - Factbook\nURL: {AR}\nArgentina is a country in South America.",
            f"[2] Chile - Factbook\nURL: {CL}\nChile is a long, narrow country.",
            f"[3] 1978 FIFA World Cup\nURL: {WC}\nThe eleventh FIFA World Cup.",
        ]
    )
    return Step(
        action="searching", tool_calls=[call("search", query="capital")], observation=listing
    )


def open_step(url: str, page: str) -> Step:
    return Step(action="opening", tool_calls=[call("open", url=url)], observation=page)


def answer_step(text: str) -> Step:
    arguments = {"text": text}
    return Step(
        action=f"<answer>{text}</answer>",
        tool_calls=[{"name": "answer", "arguments": arguments, "id": "final"}],
        observation="Answer recorded.",
        info={"final": {"name": "answer", "arguments": arguments}},
    )


PAGES = {
    AR: "Argentina. Buenos Aires is the capital of Argentina, host of the 1978 FIFA World Cup.",
    CL: "Chile. Argentina borders Chile to the west. Santiago is the capital of Chile.",
    WC: "The 1978 FIFA World Cup was held in Argentina from 1 to 25 June.",  # no R2 evidence
}

CITED_ANSWER = (
    "The answer is Buenos Aires, the capital of Argentina [1](https://factbook.local/argentina), "
    "which borders Chile [2](https://factbook.local/chile) and hosted the 1978 FIFA World Cup "
    "[3](https://factbook.local/world-cup-1978)."
)


def trajectory(
    answer: str, pages: dict[str, str] | None = None, extra: list[Step] = ()
) -> Trajectory:
    pages = PAGES if pages is None else pages
    steps = [
        search_step(),
        *[open_step(u, p) for u, p in pages.items()],
        *extra,
        answer_step(answer),
    ]
    return Trajectory(
        env_id="agentgym/DeepSearch-v0", task_id=TASK.id, steps=steps, terminated=True
    )


# ---- the worked example of §1.4 ------------------------------------------------------------------


def test_reachability_worked_example():
    entities = [["E0", "E1", "E2"], ["E1"], ["E2"], ["E3", "E0"]]
    assert rubric_reachability(entities, [True, True, False, False]) == {0, 1}
    assert rubric_reachability(entities, [False, True, False, False]) == set()


def test_worked_example_through_the_reward():
    # R0 {E0,E1,E2} supported, R1 {E1} supported, R2 {E2} unsupported, R3 {E3,E0}: E3 unnamed.
    result = CitationRubric()(trajectory(CITED_ANSWER), TASK)
    details = result.details
    assert result.value == pytest.approx(0.5)
    assert details["identified_entities"] == {
        "E0": "Buenos Aires",
        "E1": "Argentina",
        "E2": "1978 FIFA World Cup",
        "E3": None,
    }
    assert details["identified_rubrics"] == [0, 1, 2]
    assert details["valid_citations"] == [AR, CL, WC]
    assert details["supported_rubrics"] == [0, 1]
    assert details["connected_rubrics"] == [0, 1]
    assert details["error"] is None
    assert result.per_step is None


def test_disconnected_rubrics_count_only_under_the_no_bfs_ablation():
    # Without the Argentina citation R0 is unsupported, so R1 is cut off from E0.
    answer = CITED_ANSWER.replace(" [1](https://factbook.local/argentina)", "")
    t = trajectory(answer)
    bfs = CitationRubric()(t, TASK)
    nobfs = CitationRubric(bfs=False)(t, TASK)
    assert bfs.details["supported_rubrics"] == [1]
    assert bfs.details["connected_rubrics"] == []
    assert bfs.value == 0.0
    assert nobfs.value == pytest.approx(0.25)
    assert bfs.details["supported_fraction"] == pytest.approx(0.25)


# ---- citations are restricted to what the agent saw ---------------------------------------------


def test_correct_answer_without_citations_scores_below_one_with_citations():
    bare = "The answer is Buenos Aires, the capital of Argentina, which hosted the 1978 World Cup."
    without = CitationRubric()(trajectory(bare), TASK)
    with_citations = CitationRubric()(trajectory(CITED_ANSWER), TASK)
    assert without.value == 0.0
    assert without.details["error"] == "no cited URL was seen by the agent"
    assert with_citations.value > without.value


def test_citation_to_a_url_never_seen_earns_nothing():
    # The agent read the evidence (from AR) but cites a URL it never saw.
    answer = "Buenos Aires is the capital of Argentina [1](https://elsewhere.example/argentina)."
    result = CitationRubric()(trajectory(answer), TASK)
    assert result.details["cited_urls"] == [NEVER]
    assert result.details["valid_citations"] == []
    assert result.value == 0.0


def test_unseen_citation_is_dropped_but_seen_ones_still_count():
    answer = CITED_ANSWER + f" See also [4]({NEVER})."
    result = CitationRubric()(trajectory(answer), TASK)
    assert NEVER in result.details["cited_urls"]
    assert NEVER not in result.details["valid_citations"]
    assert result.value == pytest.approx(0.5)


def test_listed_but_unopened_page_is_seen_but_does_not_support_without_the_evidence():
    # Only the search listing mentions AR; its snippet lacks R0's evidence sentence.
    t = trajectory(CITED_ANSWER, pages={CL: PAGES[CL]})
    result = CitationRubric()(t, TASK)
    assert AR in result.details["valid_citations"]
    assert result.details["supported_rubrics"] == [1]
    assert result.value == 0.0


def test_urls_from_invalid_steps_and_the_final_answer_are_not_seen():
    bad = Step(
        action=f"open[{NEVER}]",
        observation=f"error: cannot parse open[{NEVER}]",
        invalid_action=True,
    )
    failed_open = Step(
        action="...", tool_calls=[call("open", url=NEVER)], observation="404", invalid_action=True
    )
    t = trajectory(f"Buenos Aires [1]({NEVER})", extra=[bad, failed_open])
    assert NEVER not in seen_urls(t)
    assert seen_urls(t) == {AR, CL, WC}


def test_seen_urls_canonicalizes_proxies_slashes_and_parentheses():
    mercury = "https://en.wikipedia.org/wiki/Mercury_(planet)"
    t = Trajectory(
        "e",
        "t",
        steps=[
            open_step("https://r.jina.ai/https://a.org/page/", "text"),
            Step(
                action="...", tool_calls=[call("search", query="m")], observation=f"see {mercury}."
            ),
        ],
    )
    assert seen_urls(t) == {"https://a.org/page", mercury}
    assert extract_citations(
        f"Mercury [1]({mercury}) and [2](view-source:https://a.org/page/)"
    ) == [
        mercury,
        "https://a.org/page",
    ]


def test_references_section_is_cut_as_in_carr():
    answer = (
        "The answer is Buenos Aires, capital of Argentina, host of the 1978 World Cup.\n\n"
        f"## References\n[1]({AR})\n[2]({CL})"
    )
    result = CitationRubric()(trajectory(answer), TASK)
    assert result.details["cited_urls"] == []
    assert result.value == 0.0


def test_strict_citations_use_carrs_pattern():
    loose = f"Buenos Aires, capital of Argentina, host of the 1978 World Cup [1]({AR})."
    strict = f"Buenos Aires, capital of Argentina, host of the 1978 World Cup [[1]({AR})]."
    assert CitationRubric(strict_citations=True)(trajectory(loose), TASK).value == 0.0
    assert CitationRubric(strict_citations=True)(trajectory(strict), TASK).value > 0.0
    assert extract_citations(loose, strict=True) == []
    assert extract_citations(f"x [1]({AR}), y", strict=True) == [AR]


def test_max_citations_keeps_the_first_seen_urls():
    result = CitationRubric(max_citations=1)(trajectory(CITED_ANSWER), TASK)
    assert result.details["valid_citations"] == [AR]
    assert result.details["supported_rubrics"] == [0]
    assert result.value == pytest.approx(0.25)


def test_aliases_must_match_whole_words_outside_urls():
    task = Task(
        "t", "q", gold={"rubrics": [{"text": "<E0> is a city."}], "entities": {"E0": "Lima"}}
    )
    t = trajectory(f"Climax [1]({AR}) and https://lima.example")
    assert CitationRubric(support="rule")(t, task).details["identified_entities"] == {"E0": None}


def test_early_exits():
    reward = CitationRubric()
    no_answer = Trajectory("e", "t", steps=[search_step()])
    assert reward(no_answer, TASK).details["error"] == "no final answer"
    no_rubrics = Task("t", "q", gold={"entities": ENTITIES})
    assert reward(trajectory(CITED_ANSWER), no_rubrics).details["error"] == "no rubrics"
    nothing_named = trajectory(f"I do not know [1]({AR}).")
    assert (
        reward(nothing_named, TASK).details["error"] == "no rubric has all its entities identified"
    )


def test_bare_string_rubrics_and_string_entities():
    task = Task(
        "t",
        "q",
        gold={
            "rubrics": ["<E0> is the capital of <E1>."],
            "entities": {"E0": "Buenos Aires", "E1": "Argentina"},
        },
    )
    # No gold evidence: the rule cannot support it, and "auto" needs a judge.
    with pytest.raises(ValueError, match="judge"):
        CitationRubric()(trajectory(CITED_ANSWER), task)
    assert CitationRubric(support="rule")(trajectory(CITED_ANSWER), task).value == 0.0


# ---- judge paths (deterministic judges) ----------------------------------------------------------


class FakeJudge:
    """A deterministic judge standing in for CaRR's LLM.

    Identification: names each entity whose canonical name appears in the response section.
    Support: a statement is supported when its text, normalized, occurs in the webpage contents.
    """

    def __init__(self, garbage_first: int = 0):
        self.prompts: list[str] = []
        self.garbage_first = garbage_first

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if len(self.prompts) <= self.garbage_first:
            return "I am not sure what you want."
        if "[Constraints]" in prompt:
            response = prompt.split("[Response]", 1)[1]
            ids = sorted(set(re.findall(r"<(E\d+)>", prompt.split("[Constraints]", 1)[1])))
            names = {e: ENTITIES[e][0] if ENTITIES[e][0] in response else None for e in ids}
            return (
                "## Analysis\nDone.\n\n## Final JSON-format Summary\n```json\n"
                + json.dumps(names)
                + "\n```"
            )
        context, statements = prompt.split("[Webpage Contents]", 1)[1].split("[Statements]", 1)
        context = normalize_text(context)
        verdicts = {}
        for line in statements.strip().splitlines():
            label, text = line.split(". ", 1)
            verdicts[label] = normalize_text(text.replace(" staged the final", "")) in context
        return "Fully Supported: ...\n```json\n" + json.dumps(verdicts) + "\n```"


def test_judge_paths_reproduce_the_worked_example():
    judge = FakeJudge()
    # R0 is phrased so the deterministic judge can find it verbatim in the page.
    rubrics = [dict(r) for r in RUBRICS]
    rubrics[0]["text"] = "<E0> is the capital of <E1>, host of <E2>."
    rubrics[1]["text"] = "<E1> borders Chile to the west."
    task = Task("ds-1", TASK.prompt, gold={"rubrics": [{"text": r["text"]} for r in rubrics]})
    result = CitationRubric(judge)(trajectory(CITED_ANSWER), task)
    assert result.details["identified_entities"]["E3"] is None
    assert result.details["supported_rubrics"] == [0, 1]
    assert result.value == pytest.approx(0.5)
    identify_prompt, support_prompt = judge.prompts
    assert "C1. <E0> is the capital of <E1>, host of <E2>." in identify_prompt
    # Only the identified rubrics are judged, filled with the identities.
    assert (
        "S1. Buenos Aires is the capital of Argentina, host of 1978 FIFA World Cup."
        in support_prompt
    )
    assert "S4." not in support_prompt
    # The judge sees only what the agent saw for the cited URLs.
    assert f"URL Source: {AR}" in support_prompt
    assert PAGES[AR] in support_prompt


def test_judge_is_asked_again_after_an_unparsable_reply():
    judge = FakeJudge(garbage_first=2)
    task = Task("t", TASK.prompt, gold={"rubrics": [{"text": r["text"]} for r in RUBRICS]})
    result = CitationRubric(judge, max_tries=5)(trajectory(CITED_ANSWER), task)
    assert result.details["error"] is None
    assert len(judge.prompts) == 4  # two garbage replies, then identification and support


def test_judge_that_never_answers_gives_zero():
    judge = FakeJudge(garbage_first=100)
    task = Task("t", TASK.prompt, gold={"rubrics": [{"text": r["text"]} for r in RUBRICS]})
    result = CitationRubric(judge, max_tries=3)(trajectory(CITED_ANSWER), task)
    assert result.value == 0.0
    assert result.details["error"] == "judge failed to identify entities"
    assert len(judge.prompts) == 3


def test_judge_identification_validation_follows_carr():
    task = Task("t", "q", gold={"rubrics": [{"text": "<E0> borders <E1>."}]})

    def judge_with(reply: str):
        return lambda prompt: reply

    ok = '```json\n{"E0": "Buenos Aires", "E1": "Argentina"}\n```'
    extra_key = '```json\n{"E0": "Buenos Aires", "E1": "Argentina", "E2": null}\n```'
    null_string = '```json\n{"E0": "Buenos Aires", "E1": "null"}\n```'
    unfenced = 'Summary: {"E0": "Buenos Aires", "E1": null}'
    t = trajectory(CITED_ANSWER)

    def identified(reply):
        reward = CitationRubric(judge_with(reply), support="rule", max_tries=1)
        return reward(t, task).details["identified_entities"]

    assert identified(ok) == {"E0": "Buenos Aires", "E1": "Argentina"}
    assert identified(extra_key) == {}  # wrong key set: rejected
    assert identified(null_string) == {}  # the string "null" rejects the whole reply
    assert identified(unfenced) == {"E0": "Buenos Aires", "E1": None}


def test_auto_mixes_rule_and_judge_support():
    # R1 has no gold evidence, so only it goes to the judge; the others use the rule.
    rubrics = [dict(r) for r in RUBRICS]
    del rubrics[1]["evidence"]
    calls = []

    def judge(prompt: str) -> str:
        calls.append(prompt)
        return '```json\n{"S1": "yes"}\n```'

    task = Task("t", "q", gold={"rubrics": rubrics, "entities": ENTITIES})
    result = CitationRubric(judge)(trajectory(CITED_ANSWER), task)
    assert len(calls) == 1 and "S1. Argentina borders Chile." in calls[0]
    assert result.details["supported_rubrics"] == [0, 1]
    assert result.value == pytest.approx(0.5)


def test_constructor_checks():
    with pytest.raises(ValueError):
        CitationRubric(identify="judge")
    with pytest.raises(ValueError):
        CitationRubric(support="magic")  # type: ignore[arg-type]


def test_parse_json_reply_is_robust():
    assert parse_json_reply('```json\n{"S1": true}\n```\ntrailing') == {"S1": True}
    assert parse_json_reply('first {"a": 1} then the summary {"S1": false, "S2": true}') == {
        "S1": False,
        "S2": True,
    }
    assert parse_json_reply("{'E0': 'Lima', 'E1': None}") == {"E0": "Lima", "E1": None}
    assert parse_json_reply('```\n{"E0": "x"}\n```') == {"E0": "x"}
    assert parse_json_reply("{ not json }") is None
    assert parse_json_reply("") is None


# ---- C-GRPO --------------------------------------------------------------------------------------

OUT, RUB = [1, 1, 0, 0], [0.4, 0.6, 0.8, 0.0]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        # The worked example of §1.4.
        ({}, [0.82, 0.88, 0.0, 0.0]),  # shipped recipe: normalize + only_positive (quirk)
        ({"positive_normalized": True}, [0.85, 0.925, 0.0, 0.0]),  # possible paper variant
        ({"normalize": False, "only_positive": False}, [0.82, 0.88, 0.24, 0.0]),  # no flags
        # The other flag combinations, by hand from sglang_rollout.py.
        ({"only_positive": False}, [0.85, 0.925, 0.3, 0.0]),  # normalize only
        ({"normalize": False}, [0.82, 0.88, 0.0, 0.0]),  # only_positive, unnormalized
        ({"only_positive": False, "only_negative": True}, [1.0, 1.0, 0.3, 0.0]),
        (
            {"normalize": False, "only_positive": False, "only_negative": True},
            [1.0, 1.0, 0.24, 0.0],
        ),
        ({"only_negative": True}, [1.0, 1.0, 0.3, 0.0]),  # only_negative is checked first
        ({"alpha": 0.5, "normalize": False, "only_positive": False}, [0.7, 0.8, 0.4, 0.0]),
    ],
)
def test_c_grpo_flag_variants(flags, expected):
    assert c_grpo_rewards(OUT, RUB, **flags) == pytest.approx(expected)


def test_c_grpo_zero_rubric_group_is_not_normalized():
    assert c_grpo_rewards([1, 0], [0.0, 0.0], only_positive=False) == pytest.approx([0.7, 0.0])


def test_c_grpo_length_mismatch():
    with pytest.raises(ValueError):
        c_grpo_rewards([1, 0], [0.5])


# ---- batch, purity, ranges -----------------------------------------------------------------------


def test_batch_matches_single_calls_and_does_not_mutate():
    ts = [trajectory(CITED_ANSWER), trajectory("nothing"), trajectory(f"Buenos Aires [1]({NEVER})")]
    tasks = [TASK] * len(ts)
    before = (copy.deepcopy(ts), copy.deepcopy(TASK))
    reward = CitationRubric()
    batched = score_batch(reward, ts, tasks)
    assert [r.value for r in batched] == [reward(t, TASK).value for t in ts]
    assert [r.details for r in batched] == [reward(t, TASK).details for t in ts]
    assert (ts, TASK) == before
    json.dumps([r.details for r in batched])  # JSON-ready
    with pytest.raises(ValueError):
        reward.batch(ts, tasks[:1])


def random_trajectory(rng: random.Random) -> Trajectory:
    urls = [AR, CL, WC, NEVER, "https://noise.example/1"]
    sentences = [r["evidence"] for r in RUBRICS] + ["Filler text about nothing.", "Argentina."]
    steps = []
    for _ in range(rng.randint(0, 5)):
        url = rng.choice(urls)
        page = " ".join(rng.sample(sentences, rng.randint(0, 3)))
        kind = rng.random()
        if kind < 0.4:
            steps.append(open_step(url, page))
        elif kind < 0.8:
            steps.append(
                Step("s", tool_calls=[call("search", query="q")], observation=f"{url} {page}")
            )
        else:
            steps.append(Step("bad", observation=f"error {url} {page}", invalid_action=True))
    names = [alias for aliases in ENTITIES.values() for alias in aliases]
    words = rng.sample(names, rng.randint(0, 4)) + [
        f"[{i}]({rng.choice(urls)})" for i in range(rng.randint(0, 4))
    ]
    rng.shuffle(words)
    if rng.random() < 0.9:
        steps.append(answer_step(" ".join(words)))
    return Trajectory("e", "t", steps=steps)


def test_values_stay_in_range_over_random_trajectories():
    rng = random.Random(1234)
    ts = [random_trajectory(rng) for _ in range(400)]
    bfs = CitationRubric().batch(ts, [TASK] * len(ts))
    nobfs = CitationRubric(bfs=False).batch(ts, [TASK] * len(ts))
    assert any(r.value > 0 for r in bfs)
    for a, b in zip(bfs, nobfs, strict=True):
        assert 0.0 <= a.value <= b.value <= 1.0
        assert set(a.details["connected_rubrics"]) <= set(a.details["supported_rubrics"])
        assert set(a.details["valid_citations"]) <= set(a.details["cited_urls"])
    outcomes = [rng.choice([0, 1]) for _ in bfs]
    combined = c_grpo_rewards(outcomes, [r.value for r in bfs])
    for out, value in zip(outcomes, combined, strict=True):
        assert (0.7 <= value <= 1.0) if out else value == 0.0


MASTER_KEYS = [" ", ".", ",", ":", "Thought process:", "Let's solve this problem step by step."]
MASTER_KEYS += ["Solution", "解", "かいせつ", "Respuesta"]


@pytest.mark.parametrize("key", MASTER_KEYS)
def test_master_keys_earn_nothing_even_from_a_gullible_judge(key):
    # "One Token to Fool LLM-as-a-Judge" (§7.4): a judge that says yes to everything. The
    # citation check still finds nothing the agent saw, so the reward stays 0.
    def gullible(prompt: str) -> str:
        labels = re.findall(r"^(S\d+)\. ", prompt, flags=re.MULTILINE)
        if labels:
            return "```json\n" + json.dumps(dict.fromkeys(labels, True)) + "\n```"
        return "```json\n" + json.dumps({e: names[0] for e, names in ENTITIES.items()}) + "\n```"

    task = Task("t", TASK.prompt, gold={"rubrics": [{"text": r["text"]} for r in RUBRICS]})
    assert CitationRubric(gullible)(trajectory(key), task).value == 0.0
    assert CitationRubric()(trajectory(key), TASK).value == 0.0
