"""Dense (all-MiniLM-L6-v2 + faiss) and hybrid retrieval, on the real model over small corpora."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("transformers")

from agentgym.envs.deepsearch import retrieval  # noqa: E402
from agentgym.envs.deepsearch.corpus import Corpus, Page, factbook_corpus, fictional_corpus, load_factbook  # noqa: E402
from agentgym.envs.deepsearch.retrieval import (  # noqa: E402
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    make_retriever,
)
from agentgym.testing import check_oracle  # noqa: E402

if not any(importlib.util.find_spec(package) for package, _ in retrieval.MODEL_PACKAGES):
    pytest.skip("no all-MiniLM-L6-v2 model package is installed", allow_module_level=True)

SECTIONS = ("economy", "government", "geography", "people-and-society")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    """A private cache root (model extraction, BM25 indexes, embeddings) shared by this module."""
    return tmp_path_factory.mktemp("dense-cache")


@pytest.fixture(scope="module")
def small_factbook() -> Corpus:
    """Four sections of two real Factbook countries (72 passages: a few seconds to embed)."""
    countries = [c for c in load_factbook() if c.slug in {"japan", "peru"}]
    pages = [page for page in factbook_corpus(countries=countries) if page.url.endswith(SECTIONS)]
    return Corpus(pages, name="factbook-small")


@pytest.fixture(scope="module")
def dense(small_factbook, cache) -> DenseRetriever:
    return DenseRetriever(small_factbook, cache_dir=cache)


@pytest.fixture(scope="module")
def bm25(small_factbook, cache) -> BM25Retriever:
    return BM25Retriever(small_factbook, cache_dir=cache)


def urls(hits) -> list[str]:
    return [hit.url for hit in hits]


def test_vectors_are_unit_length_and_meaningful(dense):
    vectors = dense.encoder.encode(["The cat sits on the mat.", "A feline rests on a rug.", "Stocks fell today."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3


@pytest.mark.parametrize(
    ("query", "url"),
    [
        # The page says "Exchange rates: yen per US dollar"; the query shares only "Japan" with it.
        ("What money do people in Japan pay with?", "factbook://japan/economy"),
        # The page says "Climate: varies from tropical in east to dry desert in west; ...".
        ("how hot does it get in Peru", "factbook://peru/geography"),
    ],
)
def test_paraphrase_finds_the_page_bm25_misses(dense, bm25, query, url):
    hit = dense.search(query, k=3)[0]
    assert hit.url == url and -1 <= hit.score <= 1 and hit.snippet
    assert hit.title == dense.corpus.get(url).title
    assert bm25.search(query, k=1)[0].url != url  # the wording differs: BM25 ranks another page first


def test_search_leaves_thread_settings_alone(dense):
    import faiss
    import torch

    before = torch.get_num_threads(), faiss.omp_get_max_threads()
    dense.search("capital city")  # one query runs on one torch thread and one faiss thread
    assert (torch.get_num_threads(), faiss.omp_get_max_threads()) == before


def test_dedupe_and_k(dense):
    pages = dense.search("capital city", k=5)
    assert len(pages) == 5 and len(set(urls(pages))) == 5
    passages = dense.search("capital city", k=8, dedupe=False)
    assert len(passages) == 8 and [h.score for h in passages] == sorted((h.score for h in passages), reverse=True)
    assert len(dense.search("capital", k=1000, dedupe=False)) == min(100, len(dense.passages))


def test_embeddings_are_cached_on_disk(dense, small_factbook, cache, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(cache))  # cache_dir=False still reads the model from the cache
    assert dense.index_dir == cache / "dense" / dense.key
    assert (dense.index_dir / "embeddings.npy").is_file()
    again = DenseRetriever(small_factbook, cache_dir=cache)
    assert again.loaded_from_cache and again.build_seconds < 1
    tiny = Corpus([Page("u://a", "A", "alpha beta"), Page("u://b", "B", "gamma delta")])
    in_memory = DenseRetriever(tiny, cache_dir=False)
    assert in_memory.index_dir is None and not in_memory.loaded_from_cache
    query = "the head of government of Peru"
    assert [(h.url, round(h.score, 5)) for h in again.search(query)] == [
        (h.url, round(h.score, 5)) for h in dense.search(query)
    ]
    changed = Corpus([*small_factbook.pages[:-1], Page("u://new", "New", "Something new.")])
    assert DenseRetriever.index_key(changed, dense.encoder) != dense.key


def test_hybrid_fuses_both(dense, bm25, small_factbook):
    hybrid = HybridRetriever(small_factbook, bm25=bm25, dense=dense)
    query = "What money do people in Japan pay with?"
    fused = urls(hybrid.search(query, k=5))
    assert urls(dense.search(query, k=1))[0] in fused  # japan/economy: dense only
    assert urls(bm25.search(query, k=1))[0] in fused  # BM25's best
    assert len(fused) == len(set(fused)) == 5
    only_bm25 = HybridRetriever(small_factbook, bm25=bm25, dense=dense, alpha=0.0)
    assert urls(only_bm25.search("capital of Peru", k=3)) == urls(bm25.search("capital of Peru", k=3))
    with pytest.raises(ValueError, match="alpha"):
        HybridRetriever(small_factbook, bm25=bm25, dense=dense, alpha=2)


BAD_QUERIES = ["", "   ", "!!! ...", None, 42, ["capital"], "\ud800 lone surrogate", "\x00", "capital " * 5_000]


@pytest.mark.parametrize("query", BAD_QUERIES, ids=range(len(BAD_QUERIES)))
@pytest.mark.parametrize("kind", ["dense", "hybrid"])
def test_bad_queries_never_raise(dense, bm25, small_factbook, kind, query):
    retriever = dense if kind == "dense" else HybridRetriever(small_factbook, bm25=bm25, dense=dense)
    for k in (5, 0, -3, "x", None, 10**30):
        hits = retriever.search(query, k=k)
        assert isinstance(hits, list)
    if not isinstance(query, str) or not query.strip(" !.\x00"):
        assert retriever.search(query) == []


def test_make_retriever_shares_instances(small_factbook, cache):
    dense = make_retriever("dense", small_factbook, cache_dir=cache)
    assert make_retriever("dense", small_factbook, cache_dir=cache) is dense
    hybrid = make_retriever("hybrid", small_factbook, cache_dir=cache)
    assert isinstance(hybrid, HybridRetriever) and hybrid.dense is dense
    assert isinstance(make_retriever("bm25", small_factbook, cache_dir=cache), BM25Retriever)
    with pytest.raises(ValueError, match="unknown retriever 'nope'"):
        make_retriever("nope", small_factbook)


def test_missing_extra_names_the_install(monkeypatch, small_factbook, tmp_path):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'agentgym\[dense\]'"):
        DenseRetriever(small_factbook, cache_dir=tmp_path)
    monkeypatch.undo()
    monkeypatch.setattr(retrieval, "MODEL_PACKAGES", (("no_such_model_package", "model"),))
    with pytest.raises(ImportError, match=r"pip install 'agentgym\[dense\]'"):
        retrieval.find_model_dir(tmp_path)


def test_env_with_dense_retriever_solves_tasks(cache, monkeypatch):
    from agentgym.envs.deepsearch.env import DeepSearchEnv

    monkeypatch.setenv("AGENTGYM_CACHE", str(cache))

    def make():
        return DeepSearchEnv(retriever="dense", corpus="fictional", n_entities=40)

    env = make()
    assert isinstance(env.retriever, DenseRetriever)
    world = fictional_corpus(0, 40)
    page = world.pages[0]
    assert page.url in env.search(page.title.split(" (")[0], k=3)
    check_oracle(make)
    with pytest.raises(ValueError, match="unknown retriever 'nope'"):
        DeepSearchEnv(retriever="nope", corpus="fictional", n_entities=40)
