from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from agentgym import cache
from agentgym.envs.deepsearch import retrieval
from agentgym.envs.deepsearch.corpus import Corpus, Page, fictional_corpus
from agentgym.envs.deepsearch.retrieval import BM25Retriever, Hit, cache_root, shared_retriever


def urls(hits: list[Hit]) -> list[str]:
    return [hit.url for hit in hits]


# ---- quality smoke -------------------------------------------------------------------------------


def test_capital_of_argentina(factbook_retriever):
    hits = factbook_retriever.search("capital of Argentina", k=3)
    assert "factbook://argentina/government" in urls(hits)
    top = hits[urls(hits).index("factbook://argentina/government")]
    assert "Buenos Aires" in top.snippet
    assert top.title == "Argentina — Government"


@pytest.mark.parametrize(
    ("query", "url"),
    [
        ("Chile land boundaries border countries", "factbook://chile/geography"),
        ("currency of Japan exchange rates", "factbook://japan/economy"),
        ("population of Nigeria", "factbook://nigeria/people-and-society"),
        ("Brasília", "factbook://brazil/government"),
        ("Brasilia capital", "factbook://brazil/government"),
    ],
)
def test_lookups_rank_the_right_page_high(factbook_retriever, query, url):
    assert url in urls(factbook_retriever.search(query, k=5))


def test_results_are_deduplicated_ranked_and_verbatim(factbook_retriever, factbook):
    hits = factbook_retriever.search("independence from Spain", k=10)
    assert len(hits) == 10
    assert len(set(urls(hits))) == 10
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    for hit in hits:
        assert hit.snippet.removesuffix(" …") in factbook.get(hit.url).text
        assert len(hit.snippet) <= factbook_retriever.snippet_chars + 2
    raw = factbook_retriever.search("independence from Spain", k=10, dedupe=False)
    assert len(raw) == 10 and raw[0].score == hits[0].score


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "!!! ... ???",
        "x" * 100_000,
        "capital " * 20_000,
        "世界 🙂 ñandú",
        "\x00\ud800",
        "the of and",
        None,
        123,
        ["capital"],
    ],
)
def test_bad_queries_never_raise(factbook_retriever, query):
    hits = factbook_retriever.search(query)  # type: ignore[arg-type]
    assert isinstance(hits, list)
    assert all(isinstance(hit, Hit) for hit in hits)


@pytest.mark.parametrize("k", [0, -3, "5", 10**12, None, 2.7])
def test_bad_k_never_raises(factbook_retriever, k):
    hits = factbook_retriever.search("capital of Peru", k=k)  # type: ignore[arg-type]
    assert len(hits) <= 100


def test_search_is_fast(factbook_retriever):
    factbook_retriever.search("warm up")
    start = time.perf_counter()
    for _ in range(50):
        factbook_retriever.search("longest land border Chile Argentina")
    assert (
        time.perf_counter() - start
    ) / 50 < 0.02  # loose bound; the benchmark reports the median


# ---- index cache ---------------------------------------------------------------------------------


def test_factbook_index_loads_from_cache(factbook, factbook_retriever, index_cache):
    assert factbook_retriever.index_dir is not None
    assert factbook_retriever.index_dir.parent == index_cache / "index"
    assert (factbook_retriever.index_dir / cache.MANIFEST).is_file()
    again = BM25Retriever(factbook, cache_dir=index_cache)
    assert again.loaded_from_cache
    assert again.build_seconds < 2.0
    query = "capital of Argentina"
    assert again.search(query) == factbook_retriever.search(query)


def test_content_change_rebuilds(tmp_path):
    pages = [Page("u://a", "Alpha", "alpha beta gamma"), Page("u://b", "Beta", "delta epsilon")]
    first = BM25Retriever(Corpus(pages), cache_dir=tmp_path)
    assert not first.loaded_from_cache
    assert BM25Retriever(Corpus(pages), cache_dir=tmp_path).loaded_from_cache
    changed = [pages[0], Page("u://b", "Beta", "delta epsilon zeta")]
    second = BM25Retriever(Corpus(changed), cache_dir=tmp_path)
    assert not second.loaded_from_cache
    assert second.index_dir != first.index_dir
    assert urls(second.search("zeta")) == ["u://b"]
    assert first.search("zeta") == []


def test_corrupt_cache_is_rebuilt(tmp_path):
    corpus = Corpus([Page("u://a", "Alpha", "alpha beta gamma")])
    index_dir = BM25Retriever(corpus, cache_dir=tmp_path).index_dir
    (index_dir / cache.MANIFEST).write_text("{broken")
    again = BM25Retriever(corpus, cache_dir=tmp_path)
    assert not again.loaded_from_cache
    assert urls(again.search("gamma")) == ["u://a"]


QUERIES = ["founded", "capital", "river", "born in", "university", "mountain", "company", "population"]


def test_garbled_index_bytes_are_detected_and_rebuilt(tmp_path):
    """Regression (issue 12, item 11): same-size garbling loaded fine and gave wrong results."""
    corpus = fictional_corpus(seed=5, n_entities=80)
    first = BM25Retriever(corpus, cache_dir=tmp_path)
    before = [first.search(query, k=10) for query in QUERIES]
    target = max(first.index_dir.glob("*.npy"), key=lambda path: path.stat().st_size)
    data = bytearray(target.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(255 - b for b in data[middle : middle + 64])
    target.write_bytes(bytes(data))  # same size, other bytes
    again = BM25Retriever(corpus, cache_dir=tmp_path)
    assert not again.loaded_from_cache
    assert [again.search(query, k=10) for query in QUERIES] == before
    third = BM25Retriever(corpus, cache_dir=tmp_path)  # the rebuilt entry was written back
    assert third.loaded_from_cache and [third.search(query, k=10) for query in QUERIES] == before


def test_a_structurally_broken_index_folder_is_rebuilt_and_rewritten_on_disk(tmp_path):
    """Regression (issue 12, item 11): the rename could not replace a non-empty folder, so every run rebuilt."""
    corpus = fictional_corpus(seed=5, n_entities=80)
    index_dir = BM25Retriever(corpus, cache_dir=tmp_path).index_dir
    victim = next(index_dir.glob("vocab*"))
    victim.unlink()
    (index_dir / "stray.tmp").write_text("left over")
    again = BM25Retriever(corpus, cache_dir=tmp_path)
    assert not again.loaded_from_cache and again.index_dir == index_dir
    assert victim.is_file() and not (index_dir / "stray.tmp").exists()
    assert BM25Retriever(corpus, cache_dir=tmp_path).loaded_from_cache
    assert [p.name for p in tmp_path.joinpath("index").iterdir()] == [index_dir.name]  # nothing left aside


def test_an_unusable_cache_location_warns_clearly_and_still_works(tmp_path, monkeypatch):
    """Regression (issue 12, item 11): AGENTGYM_CACHE naming a file gave a traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("AGENTGYM_CACHE", str(blocker))
    monkeypatch.setattr(cache, "_WARNED", set())
    with pytest.warns(cache.CacheWarning, match=r"cannot write its cache at .*not-a-folder.*Set AGENTGYM_CACHE"):
        retriever = BM25Retriever(Corpus([Page("u://a", "Alpha", "alpha beta gamma")]))
    assert urls(retriever.search("gamma")) == ["u://a"]


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path / "root"))
    assert cache_root() == tmp_path / "root"
    retriever = BM25Retriever(Corpus([Page("u://a", "A", "alpha")]))
    assert retriever.index_dir is not None
    assert retriever.index_dir.parent == tmp_path / "root" / "index"
    monkeypatch.delenv("AGENTGYM_CACHE")
    assert str(cache_root()).endswith(".cache/agentgym")


def test_no_cache_builds_in_memory(tmp_path):
    retriever = BM25Retriever(Corpus([Page("u://a", "A", "alpha")]), cache_dir=False)
    assert retriever.index_dir is None and not retriever.loaded_from_cache


def test_second_process_loads_from_cache(tmp_path):
    script = (
        "import json, sys\n"
        "from agentgym.envs.deepsearch.corpus import fictional_corpus\n"
        "from agentgym.envs.deepsearch.retrieval import BM25Retriever\n"
        "r = BM25Retriever(fictional_corpus(seed=5, n_entities=80), cache_dir=sys.argv[1])\n"
        "print(json.dumps([r.loaded_from_cache, [h.url for h in r.search('founded')]]))\n"
    )
    runs = [
        json.loads(
            subprocess.check_output([sys.executable, "-c", script, str(tmp_path)], text=True)
        )
        for _ in range(2)
    ]
    assert [run[0] for run in runs] == [False, True]
    assert runs[0][1] == runs[1][1] and runs[0][1]


def test_shared_retriever_is_shared(tmp_path):
    corpus = fictional_corpus(seed=2, n_entities=40)
    assert shared_retriever(corpus, cache_dir=tmp_path) is shared_retriever(
        corpus, cache_dir=tmp_path
    )


def test_missing_bm25s_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "bm25s", None)
    with pytest.raises(ImportError, match=r"pip install 'agentgym\[search\]'"):
        retrieval.BM25Retriever(Corpus([Page("u://a", "A", "alpha")]), cache_dir=False)
