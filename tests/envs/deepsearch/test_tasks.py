from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from agentgym.core import SPLITS, Task, TaskSet, split_of
from agentgym.envs.deepsearch.corpus import (
    Corpus,
    Page,
    fictional_corpus,
    parse_factbook_country,
)
from agentgym.envs.deepsearch.tasks import (
    FactbookTaskGenerator,
    factbook_tasks,
    fictional_tasks,
    hotpotqa_corpus,
    hotpotqa_tasks,
    normalize_name,
)


@pytest.fixture(scope="module")
def tasks() -> TaskSet:
    return factbook_tasks(seed=0)


def digest(task_set) -> str:
    payload = [(t.id, t.prompt, t.gold, t.metadata, t.split) for t in task_set]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()


def reached_rubrics(rubrics: list[dict]) -> set[int]:
    """CaRR's BFS from E0 over the rubrics' entity placeholders."""
    entities = [set(re.findall(r"<(E\d+)>", r["text"])) for r in rubrics]
    seen, reached, queue = {"E0"}, set(), ["E0"]
    while queue:
        entity = queue.pop(0)
        for i, ents in enumerate(entities):
            if entity in ents:
                reached.add(i)
                for other in ents - seen:
                    seen.add(other)
                    queue.append(other)
    return reached


def check_gold(task: Task, corpus: Corpus) -> None:
    gold = task.gold
    assert gold["answer"] and gold["entities"]["E0"][0] == gold["answer"]
    assert gold["entities"]["E0"][1:] == gold["aliases"]
    assert 2 <= task.metadata["hops"] == len(gold["rubrics"]) <= 4
    assert task.metadata["difficulty"] == {2: "easy", 3: "medium", 4: "hard"}[task.metadata["hops"]]
    assert task.split == split_of(task.id)
    for rubric in gold["rubrics"]:
        assert rubric["evidence"] in corpus.get(rubric["evidence_url"]).text
    assert reached_rubrics(gold["rubrics"]) == set(range(len(gold["rubrics"])))
    placeholders = set(re.findall(r"<(E\d+)>", " ".join(r["text"] for r in gold["rubrics"])))
    assert placeholders == set(gold["entities"])
    if "candidates" in gold:
        assert normalize_name(gold["answer"]) in {normalize_name(c) for c in gold["candidates"]}
    assert normalize_name(gold["answer"]) not in normalize_name(task.prompt)


# ---- the default Factbook set --------------------------------------------------------------------


def test_at_least_1000_distinct_tasks(tasks):
    assert len(tasks) >= 1_000
    assert len(set(tasks.ids)) == len(tasks)
    assert len({t.prompt for t in tasks}) == len(tasks)
    assert all(re.fullmatch(r"fb-[0-9a-f]{12}", i) for i in tasks.ids)


def test_every_rubric_is_backed_by_its_page(tasks, factbook):
    for task in tasks:
        check_gold(task, factbook)


def test_splits_hops_and_templates(tasks):
    splits = Counter(t.split for t in tasks)
    assert all(splits[s] > 50 for s in SPLITS)
    hops = Counter(t.metadata["hops"] for t in tasks)
    assert set(hops) == {2, 3, 4} and hops[4] >= 100
    templates = Counter(t.metadata["template"] for t in tasks)
    assert len(templates) >= 15 and min(templates.values()) >= 10


def test_known_task(tasks):
    chile = [
        t
        for t in tasks
        if t.metadata["template"] == "longest_border_capital"
        and "Chile shares" in t.gold["rubrics"][0]["text"]
    ]
    assert len(chile) == 1
    task = chile[0]
    assert task.gold["answer"] == "Buenos Aires"
    assert "Argentina" in task.gold["entities"]["E1"]
    assert task.gold["rubrics"][0]["evidence_url"] == "factbook://chile/geography"
    assert task.gold["rubrics"][1] == {
        "text": "<E0> is the capital of <E1>.",
        "evidence_url": "factbook://argentina/government",
        "evidence": "Capital - name: Buenos Aires",
    }
    assert "Buenos Aires" in task.gold["candidates"]


def test_seed_orders_and_subsamples(tasks):
    other = factbook_tasks(seed=1)
    assert sorted(other.ids) == sorted(tasks.ids) and other.ids != tasks.ids
    assert factbook_tasks(seed=0).ids == tasks.ids
    small = factbook_tasks(seed=3, n=50)
    assert len(small) == 50 and set(small.ids) <= set(tasks.ids)
    assert small.ids == factbook_tasks(seed=3, n=50).ids
    assert all(other.get(i) == tasks.get(i) for i in small.ids)  # an id always names the same task


def test_deterministic_across_processes(tasks):
    script = (
        "import hashlib, json\n"
        "from agentgym.envs.deepsearch.tasks import factbook_tasks\n"
        "tasks = factbook_tasks(seed=0)\n"
        "payload = [(t.id, t.prompt, t.gold, t.metadata, t.split) for t in tasks]\n"
        "blob = json.dumps(payload, sort_keys=True, default=list).encode()\n"
        "print(hashlib.sha256(blob).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # set iteration order must not matter
    output = subprocess.check_output([sys.executable, "-c", script], text=True, env=env)
    assert output.strip() == digest(tasks)


# ---- ambiguity rejection on a hand-made world ----------------------------------------------------


def make_country(
    name,
    capital,
    borders,
    population,
    area="1,000 sq km",
    independence="1 May 1900 (from Ruritania)",
    currency="marks (MRK)",
):
    data = {
        "Geography": {"Area": {"total ": {"text": area}}},
        "Government": {
            "Country name": {"conventional short form": {"text": name}},
            "Capital": {"name": {"text": capital}},
            "Independence": {"text": independence},
        },
        "People and Society": {
            "Population": {"total": {"text": f"{population} (2025 est.)"}},
            "Languages": {"Languages": {"text": f"{name}ic (official), English"}},
        },
        "Economy": {"Exchange rates": {"Currency": {"text": f"{currency} per US dollar -"}}},
    }
    if borders:
        data["Geography"]["Land boundaries"] = {"border countries": {"text": borders}}
    return parse_factbook_country(name[:2].lower(), data, region="test")


@pytest.fixture(scope="module")
def mini_world():
    return [
        # Alpha's two borders tie: no longest/shortest question about Alpha.
        make_country("Alpha", "Arlon", "Beta 100 km; Gamma 100 km", "5,000,000"),
        # Beta: longest Gamma, shortest Delta; their populations are within 2%.
        make_country("Beta", "Bern", "Alpha 100 km; Gamma 300 km; Delta 20 km", "2,000,000"),
        # Gamma and Delta share a capital name: neither may be identified by its capital;
        # Gamma's independence entry has two dates.
        make_country(
            "Gamma",
            "Kingston",
            "Alpha 100 km; Beta 300 km",
            "1,000,000",
            independence="1 May 1900 (from Ruritania); 2 June 1901 (recognised)",
        ),
        # Delta's page disagrees with Beta's on their border length.
        make_country("Delta", "Kingston", "Beta 25 km; Spain (Ceuta) 999 km", "1,010,000"),
        # Epsilon has two capitals.
        make_country(
            "Epsilon",
            "Pretoria (administrative capital); Cape Town (legislative capital)",
            "Beta 7 km; Gamma 9 km",
            "3,000,000",
            independence="none",
        ),
    ]


@pytest.fixture(scope="module")
def mini_tasks(mini_world):
    generator = FactbookTaskGenerator(mini_world)
    return generator, generator.generate()


def test_mini_world_accepts_unambiguous_questions(mini_tasks):
    generator, tasks = mini_tasks
    by_template = Counter(t.metadata["template"] for t in tasks)
    answers = {(t.metadata["template"], t.gold["answer"]) for t in tasks}
    assert ("longest_border_capital", "Kingston") in answers  # Beta -> Gamma -> Kingston
    assert ("longest_border_capital", "Bern") in answers  # Gamma -> Beta
    assert ("capital_to_longest_border", "Gamma") in answers  # Bern -> Beta -> Gamma
    assert by_template["border_length"] >= 2  # Alpha-Beta, Alpha-Gamma, ...
    for task in tasks:
        check_gold(task, generator.corpus)


def test_mini_world_rejects_ambiguous_questions(mini_tasks):
    generator, tasks = mini_tasks
    prompts = [t.prompt for t in tasks]
    # ties
    assert not [p for p in prompts if re.search(r"which Alpha shares its (longest|shortest)", p)]
    # a capital shared by two countries never identifies a country
    assert not [p for p in prompts if "capital is Kingston" in p]
    # two capitals: never an answer, never a clue
    assert not [t for t in tasks if "Pretoria" in t.prompt or "Pretoria" in t.gold["answer"]]
    # border lengths the two pages disagree on
    assert not [
        t
        for t in tasks
        if t.metadata["template"] == "border_length"
        and "Delta" in str(t.gold["entities"])
        and "Beta" in t.prompt
    ]
    # comparisons within 2%
    assert not [
        t for t in tasks if t.metadata["template"] == "neighbour_population" and "Beta" in t.prompt
    ]
    reasons = " | ".join(generator.rejected)
    for reason in [
        "tie for the longest border",
        "capital shared with another entry",
        "the two pages disagree",
        "too close to compare",
        "no single capital",
        "independence entry is not a single dated event",
    ]:
        assert reason in reasons, reason


def test_evidence_missing_from_page_is_rejected(mini_world):
    pages = [page for country in mini_world for page in country.pages()]
    gutted = [
        Page(p.url, p.title, p.text.replace("Capital - name: Bern", "Capital: ?")) for p in pages
    ]
    generator = FactbookTaskGenerator(mini_world, Corpus(gutted))
    tasks = generator.generate()
    assert not [t for t in tasks if t.gold["answer"] == "Bern"]
    assert any("evidence not verbatim" in reason for reason in generator.rejected)


def test_chains_never_revisit(mini_world):
    tasks = FactbookTaskGenerator(mini_world).generate()
    for task in tasks:
        names = [normalize_name(v[0]) for v in task.gold["entities"].values()]
        assert len(names) == len(set(names))


# ---- fictional tasks -----------------------------------------------------------------------------


def test_fictional_tasks():
    tasks = fictional_tasks(seed=4, n_entities=200)
    corpus = fictional_corpus(seed=4, n_entities=200)
    assert len(tasks) >= 100
    assert {t.metadata["hops"] for t in tasks} == {2, 3, 4}
    assert len(Counter(t.metadata["template"] for t in tasks)) == 5
    for task in tasks:
        check_gold(task, corpus)
    assert digest(tasks) == digest(fictional_tasks(seed=4, n_entities=200))
    assert not set(tasks.ids) & set(fictional_tasks(seed=5, n_entities=200).ids)


# ---- HotpotQA ------------------------------------------------------------------------------------

HOTPOT = [
    {
        "_id": "5a8b57f25542995d1e6f1371",
        "question": "Were Scott Derrickson and Ed Wood of the same nationality?",
        "answer": "yes",
        "type": "comparison",
        "level": "hard",
        "supporting_facts": [["Scott Derrickson", 0], ["Ed Wood", 0]],
        "context": [
            [
                "Scott Derrickson",
                [
                    "Scott Derrickson (born July 16, 1966) is an American director.",
                    " He lives in Los Angeles.",
                ],
            ],
            ["Ed Wood", ["Edward Davis Wood Jr. was an American filmmaker."]],
        ],
    },
    {
        "_id": "q2",
        "question": "Which city hosts the director's studio?",
        "answer": "Los Angeles",
        "supporting_facts": [["Scott Derrickson", 1], ["Missing", 0], ["Ed Wood", 9]],
        "context": [
            [
                "Scott Derrickson",
                [
                    "Scott Derrickson (born July 16, 1966) is an American director.",
                    "He lives in Los Angeles.",
                ],
            ]
        ],
    },
]


def test_hotpotqa_loader(tmp_path):
    path = tmp_path / "hotpot_dev.json"
    path.write_text(json.dumps(HOTPOT))
    tasks = hotpotqa_tasks(path)
    assert tasks.ids == ["hotpot-5a8b57f25542995d1e6f1371", "hotpot-q2"]
    first = tasks.get("hotpot-5a8b57f25542995d1e6f1371")
    assert first.gold["answer"] == "yes" and first.gold["candidates"] == ("yes", "no")
    assert first.metadata == {
        "hops": 2,
        "difficulty": "hard",
        "template": "hotpotqa",
        "type": "comparison",
        "source_index": 0,
    }
    corpus = hotpotqa_corpus(path)
    assert corpus.urls == ["hotpotqa://Scott_Derrickson", "hotpotqa://Ed_Wood"]
    for task in tasks:
        for evidence in task.gold["evidence"]:
            assert evidence["evidence"] in corpus.get(evidence["evidence_url"]).text
    second = tasks.get("hotpot-q2")
    assert second.gold["evidence"] == [
        {"evidence_url": "hotpotqa://Scott_Derrickson", "evidence": "He lives in Los Angeles."}
    ]
    assert second.metadata["difficulty"] == "easy"
    jsonl = tmp_path / "hotpot.jsonl"
    jsonl.write_text("\n".join(json.dumps(e) for e in HOTPOT))
    assert hotpotqa_tasks(jsonl).ids == tasks.ids


def test_hotpotqa_loader_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"question": "q?", "context": []}]))
    with pytest.raises(ValueError, match="has no 'answer'"):
        hotpotqa_tasks(bad)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(HOTPOT[0]) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"broken.jsonl:2: invalid JSON: Expecting property name"):
        hotpotqa_tasks(broken)
    broken.write_text(json.dumps(HOTPOT[0]) + '\n{"answer": ' + "9" * 5000 + "}\n")  # the one reader's phrasing
    with pytest.raises(ValueError, match=r"broken.jsonl:2: invalid JSON: an integer of more than 4300 digits"):
        hotpotqa_tasks(broken)
