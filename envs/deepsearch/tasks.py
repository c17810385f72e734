"""Multi-hop DeepSearch tasks with citation rubrics.

Tasks are generated from the Factbook and from fictional worlds, or loaded from HotpotQA files.

Every generated task has the same gold format::

    gold = {
        "answer": "Buenos Aires",
        "aliases": [...],                                   # other accepted spellings
        "entities": {"E0": ["Buenos Aires", ...], "E1": ["Argentina", ...]},
        "rubrics": [                                        # one single-hop fact per rubric
            {"text": "Chile shares its longest land border with <E1>.",
             "evidence_url": "factbook://chile/geography",
             "evidence": "Land boundaries - border countries: Argentina 6,691 km; ..."},
            {"text": "<E0> is the capital of <E1>.", ...},
        ],
        "candidates": [...],                                # the answer's hypothesis space
    }

``<E0>`` is the answer entity and ``<E1>, <E2>, ...`` the hidden intermediate entities; entities
named in the question appear literally. Each rubric's ``evidence`` is a line that appears verbatim
in the text of the page at ``evidence_url`` (generation checks it), and every rubric is connected
to ``<E0>`` through the placeholders, as the CaRR evidence-chain reward requires.

Generation rejects ambiguous questions: ties for the longest or shortest border, comparisons whose
values are within 2% of each other, capitals shared by two countries, neighbours listed twice or
only as an exclave ("Spain (Ceuta)"), border lengths the two countries' pages disagree on,
chains that revisit an entity, answers that appear in the question, and any missing or
unparseable field.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.core import Task, TaskSet, split_of
from agentgym.envs.deepsearch.corpus import (
    Corpus,
    FactbookCountry,
    FactLine,
    FictionalWorld,
    Page,
    factbook_corpus,
    fictional_world,
    fold,
    load_factbook,
)
from agentgym.trajectory import read_jsonl

DIFFICULTY = {1: "easy", 2: "easy", 3: "medium", 4: "hard"}

#: Comparisons whose two values differ by less than this fraction are rejected as ambiguous.
MIN_RELATIVE_GAP = 0.02


class Rejected(Exception):
    """A candidate question was ambiguous or lacked data; the message is the reason."""


def normalize_name(name: str) -> str:
    """Key for matching names: accents folded, lowercase, leading "the" and punctuation dropped.

    Examples:
        >>> normalize_name("The Gambia") == normalize_name("gambia")
        True
        >>> normalize_name("Côte d'Ivoire")
        'cote d ivoire'
    """
    key = re.sub(r"[^a-z0-9]+", " ", fold(name)).strip()
    return key[4:] if key.startswith("the ") else key


def _task_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:12]}"


def _pick(options: Sequence[str], key: str) -> str:
    """Choose a phrasing by hash, so a task's wording never depends on the generation seed."""
    return options[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(options)]


def _unaccent(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _aliases(answer: str, *names: str) -> list[str]:
    out: list[str] = []
    for name in names:
        for variant in (name, _unaccent(name)):
            if variant and normalize_name(variant) != normalize_name(answer) and variant not in out:
                if all(normalize_name(variant) != normalize_name(o) for o in out):
                    out.append(variant)
    return out


# --------------------------------------------------------------------------------------------------
# Building one task


@dataclass
class _Entity:
    name: str
    aliases: list[str]


class _TaskBuilder:
    """Accumulates the rubrics of one task and checks each against its evidence page."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        self.entities: dict[str, _Entity] = {}
        self.rubrics: list[dict[str, str]] = []

    def entity(self, slot: str, name: str, aliases: Iterable[str] = ()) -> str:
        """Declare hidden entity ``slot`` (``"E0"``, ``"E1"``...) and return its placeholder."""
        key = normalize_name(name)
        for other_slot, other in self.entities.items():
            if other_slot != slot and normalize_name(other.name) == key:
                raise Rejected("chain revisits an entity")
        self.entities[slot] = _Entity(name, _aliases(name, *aliases))
        return f"<{slot}>"

    def rubric(self, text: str, url: str, evidence: str, must_contain: Iterable[str]) -> None:
        """Add a rubric after checking its evidence is in the page and states the fact."""
        if url not in self.corpus:
            raise Rejected(f"evidence page {url} missing")
        if evidence not in self.corpus.get(url).text:
            raise Rejected(f"evidence not verbatim in {url}")
        for value in must_contain:
            if value not in evidence:
                raise Rejected(f"evidence does not mention {value!r}")
        self.rubrics.append({"text": text, "evidence_url": url, "evidence": evidence})

    def task(
        self,
        task_id: str,
        prompt: str,
        template: str,
        candidates: Sequence[str] | None,
        named: Iterable[str] = (),
    ) -> Task:
        answer = self.entities["E0"]
        folded_prompt = normalize_name(prompt)
        for variant in [answer.name, *answer.aliases]:
            if re.search(rf"\b{re.escape(normalize_name(variant))}\b", folded_prompt):
                raise Rejected("answer appears in the question")
        named_keys = {normalize_name(n) for n in named}
        for slot, entity in self.entities.items():
            if normalize_name(entity.name) in named_keys:
                raise Rejected(f"hidden entity {slot} is named in the question")
        used = set(re.findall(r"<(E\d+)>", " ".join(r["text"] for r in self.rubrics)))
        if used != set(self.entities):
            raise Rejected("rubrics and entities disagree")  # a template bug, never data
        if candidates is not None and normalize_name(answer.name) not in {
            normalize_name(c) for c in candidates
        }:
            raise Rejected("answer missing from candidates")
        hops = len(self.rubrics)
        gold: dict[str, Any] = {
            "answer": answer.name,
            "aliases": list(answer.aliases),
            "entities": {slot: [e.name, *e.aliases] for slot, e in sorted(self.entities.items())},
            "rubrics": list(self.rubrics),
        }
        if candidates is not None:
            gold["candidates"] = candidates
        metadata = {"hops": hops, "difficulty": DIFFICULTY.get(hops, "hard"), "template": template}
        return Task(
            id=task_id, prompt=prompt, gold=gold, metadata=metadata, split=split_of(task_id)
        )


# --------------------------------------------------------------------------------------------------
# Factbook facts


@dataclass(frozen=True)
class Border:
    """One entry of a ``Land boundaries - border countries`` line."""

    written: str  # the neighbour's name as the line writes it
    km: float
    km_text: str  # e.g. "6,691 km", verbatim from the line
    code: str | None  # the neighbour's Factbook code; None for exclaves or unknown names


_KM_COMMENT = re.compile(r"(km)\s*\([^()]*\)")
_BORDER_SPLIT = re.compile(r";\s*|,\s+(?=[A-Z])|\s+and\s+(?=[A-Z])")
_BORDER_ENTRY = re.compile(r"(.+?)\s+((\d{1,3}(?:,\d{3})*|\d+)(?:\.\d+)?)\s*km")
_NUMBER = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_INDEPENDENCE = re.compile(r"(\d{1,2} [A-Z][a-z]+ (\d{3,4})) \(from (?:the )?([^()]+)\)")
_CURRENCY = re.compile(r"(.+?) \(([A-Z]{3})\) per US dollar")
_CAPITAL = re.compile(r"([A-Z][^;(),]*?)(?: \(([^()]*)\))?")
_PROPER = re.compile(r"[A-Z][\w'.-]*(?: [A-Za-z][\w'.-]*)*")

_CURRENCY_NAMES = {
    "EUR": ["euro", "euros"],
    "XAF": ["Central African CFA franc", "CFA franc"],
    "XOF": ["West African CFA franc", "CFA franc"],
    "XPF": ["CFP franc"],
    "XCD": ["East Caribbean dollar"],
}
_FROM_ALIASES = {
    "UK": ["United Kingdom", "Britain", "Great Britain"],
    "US": ["United States"],
    "Soviet Union": ["USSR"],
}


class FactbookFacts:
    """Parsed structured facts of the Factbook (borders, capitals, populations...) with name lookup.

    Args:
        countries: The entries.
        corpus: Their pages (built from ``countries`` when ``None``).
    """

    def __init__(self, countries: Sequence[FactbookCountry], corpus: Corpus | None = None):
        self.countries = {c.code: c for c in countries}
        self.corpus = corpus if corpus is not None else factbook_corpus(countries)
        self._by_name: dict[str, set[str]] = {}
        for c in countries:
            for name in (c.name, *c.aliases):
                self._by_name.setdefault(normalize_name(name), set()).add(c.code)
        capital_keys = Counter()
        for c in countries:
            capital = self.capital(c.code)
            if capital:
                capital_keys.update(
                    {normalize_name(n) for n in capital[1]} | {normalize_name(capital[0])}
                )
        self._capital_counts = capital_keys

    def resolve(self, name: str) -> str | None:
        """The code of the entry called ``name``, or ``None`` if unknown or ambiguous."""
        codes = self._by_name.get(normalize_name(name), set())
        return next(iter(codes)) if len(codes) == 1 else None

    def name(self, code: str) -> str:
        """Display name of an entry."""
        return self.countries[code].name

    def names(self, code: str, *extra: str) -> list[str]:
        """Aliases of an entry (plus ``extra`` spellings), without its display name."""
        c = self.countries[code]
        return _aliases(c.name, *c.aliases, *extra)

    # ---- single facts ------------------------------------------------------------------------

    def fact(self, code: str, *path: str) -> FactLine:
        """The rendered field at ``path``; raises :class:`Rejected` when missing."""
        fact = self.countries[code].fact(*path)
        if fact is None or fact.value.strip().lower() in ("none", "na", ""):
            raise Rejected(f"{code}: no {' / '.join(path)}")
        return fact

    def url(self, code: str, section: str) -> str:
        """The URL of one section page of an entry."""
        return self.countries[code].url(section)

    def borders(self, code: str) -> list[Border]:
        """The parsed land borders of an entry (empty when it has none or they cannot be parsed)."""
        c = self.countries[code]
        fact = c.fact("Geography", "Land boundaries", "border countries")
        if fact is None:
            return []
        text = _KM_COMMENT.sub(r"\1", fact.value)
        out = []
        for part in _BORDER_SPLIT.split(text):
            match = _BORDER_ENTRY.fullmatch(part.strip())
            if not match:
                return []
            written = match.group(1)
            neighbour = self.resolve(written)  # "Holy See (Vatican City)" is an alias...
            if neighbour is None and "(" in written:
                neighbour = None  # ...but "Spain (Ceuta)" is an exclave, not Spain's page
            if neighbour == code:
                neighbour = None
            out.append(
                Border(
                    written,
                    float(match.group(2).replace(",", "")),
                    f"{match.group(2)} km",
                    neighbour,
                )
            )
        return out

    def extreme_border(self, code: str, longest: bool) -> Border:
        """The strictly longest (or shortest) border; :class:`Rejected` on ties or bad data."""
        borders = self.borders(code)
        if not borders or (len(borders) < 2 and not longest):
            raise Rejected(f"{code}: too few land borders")
        bases = [normalize_name(re.sub(r"\s*\([^)]*\)", "", b.written)) for b in borders]
        if len(set(bases)) != len(bases):
            raise Rejected(f"{code}: a neighbour is listed twice")
        ranked = sorted(borders, key=lambda b: b.km, reverse=longest)
        if len(ranked) > 1 and ranked[0].km == ranked[1].km:
            raise Rejected(f"{code}: tie for the {'longest' if longest else 'shortest'} border")
        if ranked[0].code is None:
            raise Rejected(f"{code}: extreme neighbour {ranked[0].written!r} has no page")
        return ranked[0]

    def border_line(self, code: str) -> FactLine:
        """The ``Land boundaries - border countries`` line of an entry."""
        return self.fact(code, "Geography", "Land boundaries", "border countries")

    def capital(self, code: str) -> tuple[str, list[str]] | None:
        """``(capital, aliases)`` when the entry names exactly one capital, else ``None``."""
        fact = self.countries[code].fact("Government", "Capital", "name")
        if fact is None:
            return None
        value = fact.value
        if value == "Washington, D.C.":
            return value, ["Washington", "Washington DC", "Washington, DC"]
        match = _CAPITAL.fullmatch(value)
        if not match or "\n" in value:
            return None
        name, paren = match.group(1).strip(), match.group(2)
        aliases = []
        if paren:
            for part in re.split(r"[,/]\s*", paren):
                if _PROPER.fullmatch(part.strip()):
                    aliases.append(part.strip())
        return name, aliases

    def capital_unique(self, code: str) -> bool:
        """Whether no other entry has a capital of the same name (so it identifies the country)."""
        capital = self.capital(code)
        if capital is None:
            return False
        keys = {normalize_name(capital[0])} | {normalize_name(a) for a in capital[1]}
        return all(self._capital_counts[k] == 1 for k in keys)

    def number(self, code: str, *path: str) -> tuple[float, str, FactLine]:
        """A leading number of a field: ``(value, text as written, fact)``."""
        fact = self.fact(code, *path)
        match = _NUMBER.match(fact.value)
        if not match:
            raise Rejected(f"{code}: {path[-1]} is not a number")
        return float(match.group(0).replace(",", "")), match.group(0), fact

    def population(self, code: str) -> tuple[float, str, FactLine]:
        """Total population (value, text, fact)."""
        if self.countries[code].fact("People and Society", "Population", "total"):
            return self.number(code, "People and Society", "Population", "total")
        return self.number(code, "People and Society", "Population")

    def area(self, code: str) -> tuple[float, str, FactLine]:
        """Total area in sq km (value, text, fact)."""
        value, text, fact = self.number(code, "Geography", "Area", "total")
        if f"{text} sq km" not in fact.value:
            raise Rejected(f"{code}: area not in sq km")
        return value, f"{text} sq km", fact

    def independence(self, code: str) -> tuple[str, str, str | None, FactLine]:
        """``(date, year, source or None, fact)`` for a plain ``9 July 1816 (from Spain)`` entry."""
        fact = self.fact(code, "Government", "Independence")
        match = _INDEPENDENCE.fullmatch(fact.value)
        if not match:
            raise Rejected(f"{code}: independence entry is not a single dated event")
        source = match.group(3).strip()
        if re.search(r"administ|trustee|protectorate|mandate|\d", source):
            source = None
        return match.group(1), match.group(2), source, fact

    def currency(self, code: str) -> tuple[str, str, FactLine]:
        """``(currency name as written, ISO code, fact)``."""
        fact = self.fact(code, "Economy", "Exchange rates", "Currency")
        match = _CURRENCY.match(fact.value)
        if not match or " or " in match.group(1) or "/" in match.group(1):
            raise Rejected(f"{code}: currency not parseable")
        return match.group(1), match.group(2), fact

    def official_language(self, code: str) -> tuple[str, FactLine]:
        """The single language marked official, with the languages fact."""
        c = self.countries[code]
        fact = c.fact("People and Society", "Languages", "Languages") or c.fact(
            "People and Society", "Languages"
        )
        if fact is None:
            raise Rejected(f"{code}: no languages")
        first = fact.value.split("\n")[0]
        items, depth, current = [], 0, ""
        for ch in first:
            depth += ch == "("
            depth -= ch == ")"
            if ch in ",;" and depth == 0:
                items.append(current.strip())
                current = ""
            else:
                current += ch
        items.append(current.strip())
        official = [item for item in items if "official" in item]
        if len(official) != 1:
            raise Rejected(f"{code}: not exactly one official language")
        match = re.match(r"([A-Z][A-Za-z' -]*?)\s*(?:\d|\(|$)", official[0])
        if not match or len(match.group(1)) < 3:
            raise Rejected(f"{code}: official language not parseable")
        return match.group(1), fact


# --------------------------------------------------------------------------------------------------
# Factbook templates


def _relative_gap(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-9)


def _currency_aliases(name: str, iso: str) -> list[str]:
    singular = re.sub(r"(?<=[a-hj-z])s$", "", name)  # pesos -> peso, but not meticais
    return [singular, iso, f"{name} ({iso})", *_CURRENCY_NAMES.get(iso, [])]


class FactbookTaskGenerator:
    """Generates every unambiguous Factbook question of every template.

    Args:
        countries: Factbook entries (the installed Factbook when ``None``).
        corpus: Their pages (rendered from ``countries`` when ``None``).

    Attributes:
        rejected: How many candidate questions were rejected, by ``"template: reason"``.
    """

    def __init__(
        self, countries: Sequence[FactbookCountry] | None = None, corpus: Corpus | None = None
    ):
        if countries is None:
            countries = load_factbook()
            corpus = corpus if corpus is not None else factbook_corpus()
        self.facts = FactbookFacts(countries, corpus)
        self.corpus = self.facts.corpus
        self.rejected: Counter[str] = Counter()
        self._candidates = self._candidate_spaces()

    def _candidate_spaces(self) -> dict[str, tuple[str, ...]]:
        f = self.facts
        spaces: dict[str, set[str]] = {
            k: set() for k in ("capital", "country", "year", "currency", "language", "from")
        }
        for code in f.countries:
            capital = f.capital(code)
            if capital:
                spaces["capital"].add(capital[0])
            spaces["country"].add(f.name(code))
            for key, getter in (
                ("year", lambda c: f.independence(c)[1]),
                ("from", lambda c: f.independence(c)[2]),
                ("currency", lambda c: f.currency(c)[0]),
                ("language", lambda c: f.official_language(c)[0]),
            ):
                try:
                    value = getter(code)
                except Rejected:
                    continue
                if value:
                    spaces[key].add(value)
        return {k: tuple(sorted(v)) for k, v in spaces.items()}

    # ---- rubric helpers ----------------------------------------------------------------------

    def _border_rubric(
        self,
        b: _TaskBuilder,
        code: str,
        subject: str,
        border: Border,
        neighbour: str,
        longest: bool,
    ) -> None:
        line = self.facts.border_line(code)
        word = "longest" if longest else "shortest"
        b.rubric(
            f"{subject} shares its {word} land border with {neighbour}.",
            self.facts.url(code, "Geography"),
            line.line,
            [border.written],
        )

    def _capital_rubric(self, b: _TaskBuilder, code: str, capital: str, country: str) -> None:
        fact = self.facts.fact(code, "Government", "Capital", "name")
        b.rubric(
            f"{capital} is the capital of {country}.",
            self.facts.url(code, "Government"),
            fact.line,
            [self.facts.capital(code)[0]],
        )  # type: ignore[index]

    def _capital(self, code: str) -> tuple[str, list[str]]:
        capital = self.facts.capital(code)
        if capital is None:
            raise Rejected(f"{code}: no single capital")
        return capital

    def _capital_named(self, code: str) -> str:
        """A capital that may appear in a question to identify its country."""
        capital = self._capital(code)[0]
        if not self.facts.capital_unique(code):
            raise Rejected(f"{code}: capital shared with another entry")
        if normalize_name(self.facts.name(code)) in normalize_name(capital):
            raise Rejected(f"{code}: capital contains the country's name")
        return capital

    def _neighbour(self, b: _TaskBuilder, slot: str, border: Border) -> str:
        assert border.code is not None
        return b.entity(
            slot, self.facts.name(border.code), self.facts.names(border.code, border.written)
        )

    # ---- templates: each takes a code and returns one task or raises Rejected ------------------

    def longest_border_capital(self, code: str, longest: bool = True) -> Task:
        """Capital of A's longest- (or shortest-) border neighbour (2 hops)."""
        f = self.facts
        a = f.name(code)
        border = f.extreme_border(code, longest)
        b = _TaskBuilder(self.corpus)
        e1 = self._neighbour(b, "E1", border)
        capital, aliases = self._capital(border.code)  # type: ignore[arg-type]
        e0 = b.entity("E0", capital, aliases)
        self._border_rubric(b, code, a, border, e1, longest)
        self._capital_rubric(b, border.code, e0, e1)  # type: ignore[arg-type]
        word = "longest" if longest else "shortest"
        template = f"{word}_border_capital"
        prompt = _pick(
            [
                f"What is the capital of the country with which {a} shares its {word} land border?",
                f"{a} shares land borders with several countries. What is the capital of the one "
                f"whose border with {a} is the {word}?",
            ],
            f"{template}|{code}",
        )
        return b.task(
            _task_id("fb", template, code), prompt, template, self._candidates["capital"], [a]
        )

    def shortest_border_capital(self, code: str) -> Task:
        """Capital of A's shortest-border neighbour (2 hops)."""
        return self.longest_border_capital(code, longest=False)

    def longest_border_attribute(self, code: str, attribute: str) -> Task:
        """Currency, official language, independence year or source of the longest neighbour."""
        f = self.facts
        a = f.name(code)
        border = f.extreme_border(code, True)
        n = border.code
        assert n is not None
        b = _TaskBuilder(self.corpus)
        e1 = self._neighbour(b, "E1", border)
        subject = f"the country with which {a} shares its longest land border"
        if attribute == "currency":
            name, iso, fact = f.currency(n)
            e0 = b.entity("E0", name, _currency_aliases(name, iso))
            self._border_rubric(b, code, a, border, e1, True)
            b.rubric(
                f"The currency of {e1} is {e0} ({iso}).",
                f.url(n, "Economy"),
                fact.line,
                [name, iso],
            )
            questions = [f"What currency is used in {subject}?", f"Name the currency of {subject}."]
            space = "currency"
        elif attribute == "language":
            language, fact = f.official_language(n)
            e0 = b.entity("E0", language)
            self._border_rubric(b, code, a, border, e1, True)
            b.rubric(
                f"{e0} is the official language of {e1}.",
                f.url(n, "People and Society"),
                fact.line,
                [language],
            )
            questions = [f"What is the official language of {subject}?"]
            space = "language"
        elif attribute == "year":
            date, year, _, fact = f.independence(n)
            e0 = b.entity("E0", year, [date])
            self._border_rubric(b, code, a, border, e1, True)
            b.rubric(
                f"{e1} became independent in {e0} (on {date}).",
                f.url(n, "Government"),
                fact.line,
                [date],
            )
            questions = [
                f"In what year did {subject} gain independence?",
                f"When (which year) did {subject} become independent?",
            ]
            space = "year"
        elif attribute == "from":
            date, _, source, fact = f.independence(n)
            if source is None:
                raise Rejected(f"{n}: independence not from a country")
            source_code = f.resolve(source)
            extra = f.names(source_code) + [f.name(source_code)] if source_code else []
            e0 = b.entity("E0", source, [*_FROM_ALIASES.get(source, []), *extra])
            self._border_rubric(b, code, a, border, e1, True)
            b.rubric(
                f"{e1} gained independence from {e0} on {date}.",
                f.url(n, "Government"),
                fact.line,
                [source, date],
            )
            questions = [f"From which country did {subject} gain its independence?"]
            space = "from"
        else:
            raise ValueError(f"unknown attribute {attribute!r}")
        template = f"longest_border_{attribute}"
        prompt = _pick(questions, f"{template}|{code}")
        return b.task(
            _task_id("fb", template, code), prompt, template, self._candidates[space], [a]
        )

    def capital_to_longest_border(self, code: str) -> Task:
        """Which country shares the longest border with the country whose capital is X?"""
        f = self.facts
        capital = self._capital_named(code)
        border = f.extreme_border(code, True)
        b = _TaskBuilder(self.corpus)
        e1 = b.entity("E1", f.name(code), f.names(code))
        e0 = self._neighbour(b, "E0", border)
        self._capital_rubric(b, code, capital, e1)
        self._border_rubric(b, code, e1, border, e0, True)
        template = "capital_to_longest_border"
        prompt = _pick(
            [
                f"Which country shares the longest land border with the country whose capital "
                f"is {capital}?",
                f"The capital of a certain country is {capital}. With which country does it "
                "share its longest land border?",
            ],
            f"{template}|{code}",
        )
        return b.task(
            _task_id("fb", template, code), prompt, template, self._candidates["country"], [capital]
        )

    def border_length(self, code: str, other: str) -> Task:
        """How long is the border between A and the country whose capital is X?"""
        f = self.facts
        a = f.name(code)
        borders = {b.code: b for b in f.borders(code) if b.code}
        if other not in borders:
            raise Rejected(f"{code}: does not border {other}")
        border = borders[other]
        back = [x for x in f.borders(other) if x.code == code]
        if len(back) != 1 or back[0].km != border.km:
            raise Rejected(f"{code}/{other}: the two pages disagree on the border length")
        if sum(1 for x in f.borders(code) if x.code == other) != 1:
            raise Rejected(f"{code}: {other} listed twice")
        capital = self._capital_named(other)
        b = _TaskBuilder(self.corpus)
        e1 = b.entity("E1", f.name(other), f.names(other, border.written))
        digits = border.km_text.replace(",", "")
        e0 = b.entity(
            "E0",
            border.km_text,
            [border.km_text[:-3], digits, digits[:-3], f"{border.km_text[:-3]} kilometres"],
        )
        self._capital_rubric(b, other, capital, e1)
        b.rubric(
            f"The land border between {a} and {e1} is {e0} long.",
            f.url(code, "Geography"),
            f.border_line(code).line,
            [f"{border.written} {border.km_text}"],
        )
        template = "border_length"
        prompt = _pick(
            [
                f"How long, in kilometres, is the land border between {a} and the country whose "
                f"capital is {capital}?",
                f"What is the length of the land border that {a} shares with the country "
                f"whose capital is {capital}?",
            ],
            f"{template}|{code}|{other}",
        )
        return b.task(_task_id("fb", template, code, other), prompt, template, None, [a, capital])

    def longest_chain_capital(self, code: str, links: int = 2) -> Task:
        """Follow "longest border" ``links`` times from A; ask for the capital (links+1 hops)."""
        f = self.facts
        a = f.name(code)
        chain = [code]
        borders = []
        for _ in range(links):
            border = f.extreme_border(chain[-1], True)
            if border.code in chain:
                raise Rejected("longest-border chain loops back")
            borders.append(border)
            chain.append(border.code)  # type: ignore[arg-type]
        b = _TaskBuilder(self.corpus)
        slots = [f"E{links - i}" for i in range(links)]  # nearest to A gets the highest number
        names = [a]
        for slot, border in zip(slots, borders, strict=True):
            names.append(self._neighbour(b, slot, border))
        capital, aliases = self._capital(chain[-1])
        e0 = b.entity("E0", capital, aliases)
        for i, border in enumerate(borders):
            self._border_rubric(b, chain[i], names[i], border, names[i + 1], True)
        self._capital_rubric(b, chain[-1], e0, names[-1])
        template = f"longest_chain{links}_capital"
        if links == 2:
            prompt = _pick(
                [
                    f"Take the country with which {a} shares its longest land border, then the "
                    "country with which that one shares its own longest land border. What is the "
                    "capital of this second country?",
                    "What is the capital of the country that shares the longest land border with "
                    f"the country that shares the longest land border with {a}?",
                ],
                f"{template}|{code}",
            )
        else:
            times = {3: "three", 4: "four"}.get(links, str(links))
            prompt = (
                f"Start at {a} and {times} times move to the country with which the current "
                "country shares its longest land border. What is the capital of the country you "
                "reach?"
            )
        return b.task(
            _task_id("fb", template, code), prompt, template, self._candidates["capital"], [a]
        )

    def capital_chain_capital(self, code: str, links: int = 1) -> Task:
        """From the country whose capital is X follow "longest border" ``links`` times; capital?"""
        f = self.facts
        start_capital = self._capital_named(code)
        chain = [code]
        borders = []
        for _ in range(links):
            border = f.extreme_border(chain[-1], True)
            if border.code in chain:
                raise Rejected("longest-border chain loops back")
            borders.append(border)
            chain.append(border.code)  # type: ignore[arg-type]
        b = _TaskBuilder(self.corpus)
        names = [b.entity(f"E{links + 1}", f.name(code), f.names(code))]
        for i, border in enumerate(borders):
            names.append(self._neighbour(b, f"E{links - i}", border))
        capital, aliases = self._capital(chain[-1])
        e0 = b.entity("E0", capital, aliases)
        self._capital_rubric(b, code, start_capital, names[0])
        for i, border in enumerate(borders):
            self._border_rubric(b, chain[i], names[i], border, names[i + 1], True)
        self._capital_rubric(b, chain[-1], e0, names[-1])
        template = f"capital_chain{links}_capital"
        if links == 1:
            prompt = _pick(
                [
                    "What is the capital of the country that shares the longest land border with "
                    f"the country whose capital is {start_capital}?",
                    f"{start_capital} is a national capital. Which city is the capital of the "
                    "country with which that nation shares its longest land border?",
                ],
                f"{template}|{code}",
            )
        else:
            prompt = (
                f"Start at the country whose capital is {start_capital}. Move to the country with "
                "which it shares its longest land border, then to the country with which that one "
                "shares its own longest land border. What is the capital of the country you reach?"
            )
        return b.task(
            _task_id("fb", template, code),
            prompt,
            template,
            self._candidates["capital"],
            [start_capital],
        )

    def capital_longest_border_attribute(self, code: str, attribute: str) -> Task:
        """Independence year or currency of the longest neighbour of the country with capital X."""
        f = self.facts
        capital = self._capital_named(code)
        border = f.extreme_border(code, True)
        n = border.code
        assert n is not None
        b = _TaskBuilder(self.corpus)
        e2 = b.entity("E2", f.name(code), f.names(code))
        e1 = self._neighbour(b, "E1", border)
        intro = (
            f"The country whose capital is {capital} shares its longest land border with "
            "another country."
        )
        if attribute == "year":
            date, year, _, fact = f.independence(n)
            e0 = b.entity("E0", year, [date])
            last = (
                f"{e1} became independent in {e0} (on {date}).",
                f.url(n, "Government"),
                fact.line,
                [date],
            )
            prompt = f"{intro} In what year did that other country gain independence?"
            space = "year"
        else:
            name, iso, fact = f.currency(n)
            e0 = b.entity("E0", name, _currency_aliases(name, iso))
            last = (
                f"The currency of {e1} is {e0} ({iso}).",
                f.url(n, "Economy"),
                fact.line,
                [name, iso],
            )
            prompt = f"{intro} What currency is used in that other country?"
            space = "currency"
        self._capital_rubric(b, code, capital, e2)
        self._border_rubric(b, code, e2, border, e1, True)
        b.rubric(*last)
        template = f"capital_longest_border_{attribute}"
        return b.task(
            _task_id("fb", template, code), prompt, template, self._candidates[space], [capital]
        )

    def neighbour_comparison(self, code: str, measure: str, then_capital: bool = False) -> Task:
        """Which of A's longest- and shortest-border neighbours has the larger population / area?"""
        f = self.facts
        a = f.name(code)
        longest = f.extreme_border(code, True)
        shortest = f.extreme_border(code, False)  # needs two borders
        get = f.population if measure == "population" else f.area
        (v_long, t_long, fact_long) = get(longest.code)  # type: ignore[arg-type]
        (v_short, t_short, fact_short) = get(shortest.code)  # type: ignore[arg-type]
        if _relative_gap(v_long, v_short) < MIN_RELATIVE_GAP:
            raise Rejected(f"{code}: neighbours' {measure}s too close to compare")
        long_wins = v_long > v_short
        winner, loser = (longest, shortest) if long_wins else (shortest, longest)
        b = _TaskBuilder(self.corpus)
        win_slot, lose_slot = ("E1", "E2") if then_capital else ("E0", "E1")
        w = self._neighbour(b, win_slot, winner)
        lo = self._neighbour(b, lose_slot, loser)
        e_long, e_short = (w, lo) if long_wins else (lo, w)
        b.rubric(
            f"{a} shares its longest land border with {e_long} and its shortest with {e_short}.",
            f.url(code, "Geography"),
            f.border_line(code).line,
            [longest.written, shortest.written],
        )
        section = "People and Society" if measure == "population" else "Geography"
        verb = "has a population of" if measure == "population" else "has a total area of"
        for slot, text, fact, border in (
            (e_long, t_long, fact_long, longest),
            (e_short, t_short, fact_short, shortest),
        ):
            b.rubric(f"{slot} {verb} {text}.", f.url(border.code, section), fact.line, [text])  # type: ignore[arg-type]
        adjective = "larger population" if measure == "population" else "larger total area"
        long_n = f"the country with which {a} shares its longest land border"
        which = f"{long_n}, or the country with which it shares its shortest"
        if then_capital:
            capital, aliases = self._capital(winner.code)  # type: ignore[arg-type]
            e0 = b.entity("E0", capital, aliases)
            self._capital_rubric(b, winner.code, e0, w)  # type: ignore[arg-type]
            template = f"neighbour_{measure}_capital"
            prompt = f"Of {which}, take the one with the {adjective}. What is its capital?"
            candidates = self._candidates["capital"]
        else:
            template = f"neighbour_{measure}"
            prompt = _pick(
                [
                    f"Which has the {adjective}: {which}?",
                    f"Compare {long_n} with the country with which it shares its shortest "
                    f"land border. Which of the two has the {adjective}?",
                ],
                f"{template}|{code}",
            )
            candidates = tuple(sorted([f.name(winner.code), f.name(loser.code)]))  # type: ignore[arg-type]
        return b.task(_task_id("fb", template, code), prompt, template, candidates, [a])

    # ---- all templates -----------------------------------------------------------------------

    def templates(self) -> dict[str, Any]:
        """Template name -> function of a country code (or code pair) returning a task."""
        return {
            "longest_border_capital": self.longest_border_capital,
            "shortest_border_capital": self.shortest_border_capital,
            "longest_border_currency": lambda c: self.longest_border_attribute(c, "currency"),
            "longest_border_language": lambda c: self.longest_border_attribute(c, "language"),
            "longest_border_year": lambda c: self.longest_border_attribute(c, "year"),
            "longest_border_from": lambda c: self.longest_border_attribute(c, "from"),
            "capital_to_longest_border": self.capital_to_longest_border,
            "border_length": self.border_length,
            "longest_chain2_capital": lambda c: self.longest_chain_capital(c, 2),
            "longest_chain3_capital": lambda c: self.longest_chain_capital(c, 3),
            "capital_chain1_capital": lambda c: self.capital_chain_capital(c, 1),
            "capital_chain2_capital": lambda c: self.capital_chain_capital(c, 2),
            "capital_longest_border_year": lambda c: self.capital_longest_border_attribute(
                c, "year"
            ),
            "capital_longest_border_currency": lambda c: self.capital_longest_border_attribute(
                c, "currency"
            ),
            "neighbour_population": lambda c: self.neighbour_comparison(c, "population"),
            "neighbour_area": lambda c: self.neighbour_comparison(c, "area"),
            "neighbour_population_capital": lambda c: self.neighbour_comparison(
                c, "population", then_capital=True
            ),
        }

    def generate(self) -> list[Task]:
        """Every task of every template that passes the checks, in a fixed order (by id)."""
        tasks: dict[str, Task] = {}
        codes = sorted(self.facts.countries)
        for name, make in self.templates().items():
            if name == "border_length":
                args = [(c, b.code) for c in codes for b in self.facts.borders(c) if b.code]
            else:
                args = [(c,) for c in codes]
            for arg in args:
                try:
                    task = make(*arg)
                except Rejected as e:
                    self.rejected[f"{name}: {_reason(str(e))}"] += 1
                    continue
                if task.id in tasks:  # pragma: no cover - ids hash the defining chain
                    raise RuntimeError(f"duplicate task id {task.id}")
                tasks[task.id] = task
        return [tasks[i] for i in sorted(tasks)]


def _reason(message: str) -> str:
    return re.sub(r"^[a-z]{2}(/[a-z]{2})?: ", "", message)


def _select(tasks: list[Task], seed: int, n: int | None) -> TaskSet:
    order = list(tasks)
    random.Random(seed).shuffle(order)
    if n is not None:
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        order = order[:n]
    return TaskSet(order)


_FACTBOOK_TASKS: list[Task] | None = None


def factbook_tasks(
    seed: int = 0, n: int | None = None, *, countries: Sequence[FactbookCountry] | None = None
) -> TaskSet:
    """Multi-hop questions (2-4 hops) over the CIA World Factbook.

    Templates: capital / currency / official language / independence of the longest- or
    shortest-border neighbour; the longest-border neighbour of the country with a given capital;
    border lengths; chains of longest-border neighbours; population and area comparisons between
    a country's longest- and shortest-border neighbours. Ids (``fb-<hash>``) hash the template and
    the countries that define the question, and the wording is picked by that hash too, so a task
    id always names the same question; ``seed`` only orders (and, with ``n``, subsamples) them.

    Args:
        seed: Seeds the order and the subsample.
        n: How many tasks to keep (all when ``None`` or larger than the total).
        countries: Factbook entries to draw from (the installed Factbook when ``None``).

    Returns:
        The tasks; ``split`` comes from :func:`agentgym.core.split_of` on the id.
    """
    global _FACTBOOK_TASKS
    if countries is not None:
        return _select(FactbookTaskGenerator(countries).generate(), seed, n)
    if _FACTBOOK_TASKS is None:
        _FACTBOOK_TASKS = FactbookTaskGenerator().generate()
    return _select(_FACTBOOK_TASKS, seed, n)


# --------------------------------------------------------------------------------------------------
# Fictional-world tasks


def _fictional_chain(world: FictionalWorld, corpus: Corpus, template: str, start: str) -> Task:
    """One fictional task; every relation is functional, so answers are unique by construction."""
    e = world.entities
    b = _TaskBuilder(corpus)

    def fact(entity_id: str, key: str) -> str:
        return world.facts(entity_id)[key]

    def rubric(text: str, entity_id: str, key: str, *mentions: str) -> None:
        b.rubric(text, world.url(entity_id), fact(entity_id, key), mentions)

    s = e[start]
    if template == "employer_hq_country":  # person -> employer -> hq city -> country
        org = s.attrs["employer_id"]
        city = e[org].attrs["hq_id"]
        country = e[city].attrs["country_id"]
        e2 = b.entity("E2", e[org].name, [f"the {e[org].name}"])
        e1 = b.entity("E1", e[city].name)
        e0 = b.entity("E0", e[country].name)
        rubric(f"{s.name} works for the {e2}.", start, "employer", e[org].name)
        rubric(f"The {e2} has its headquarters in {e1}.", org, "hq", e[city].name)
        rubric(f"{e1} is a city in {e0}.", city, "intro", e[country].name)
        prompt = (
            f"In which country is the headquarters of the organisation that {s.name} works for?"
        )
        space = [c.name for c in world.of_kind("country")]
    elif template == "event_organiser_founder":  # event -> organiser -> founder
        org = s.attrs["organiser_id"]
        founder = e[org].attrs["founder_id"]
        e1 = b.entity("E1", e[org].name, [f"the {e[org].name}"])
        e0 = b.entity("E0", e[founder].name)
        rubric(f"The {s.name} was organised by the {e1}.", start, "organiser", e[org].name)
        rubric(f"The {e1} was founded by {e0}.", org, "founder", e[founder].name)
        prompt = f"Who founded the organisation that organised the {s.name}?"
        space = [p.name for p in world.of_kind("person")]
    elif template == "birthplace_country_capital":  # person -> city -> country -> capital
        city = s.attrs["birthplace_id"]
        country = e[city].attrs["country_id"]
        capital = e[country].attrs["capital_id"]
        if capital == city:
            raise Rejected("birthplace is the capital")
        e2 = b.entity("E2", e[city].name)
        e1 = b.entity("E1", e[country].name)
        e0 = b.entity("E0", e[capital].name)
        rubric(f"{s.name} was born in {e2}.", start, "birthplace", e[city].name)
        rubric(f"{e2} is a city in {e1}.", city, "intro", e[country].name)
        rubric(f"The capital of {e1} is {e0}.", country, "capital", e[capital].name)
        prompt = f"What is the capital of the country in which {s.name} was born?"
        space = [c.name for c in world.of_kind("city")]
    elif template == "event_country_currency":  # event -> city -> country -> currency
        city = s.attrs["city_id"]
        country = e[city].attrs["country_id"]
        currency = e[country].attrs["currency"]
        e2 = b.entity("E2", e[city].name)
        e1 = b.entity("E1", e[country].name)
        e0 = b.entity("E0", currency, [f"the {currency}"])
        rubric(f"The {s.name} was held in {e2}.", start, "city", e[city].name)
        rubric(f"{e2} is a city in {e1}.", city, "intro", e[country].name)
        rubric(f"The currency of {e1} is the {e0}.", country, "currency", currency)
        prompt = f"What is the currency of the country where the {s.name} was held?"
        space = sorted({c.attrs["currency"] for c in world.of_kind("country")})
    elif template == "founder_birthplace_language":  # org -> founder -> city -> country -> language
        founder = s.attrs["founder_id"]
        city = e[founder].attrs["birthplace_id"]
        country = e[city].attrs["country_id"]
        language = e[country].attrs["language"]
        e3 = b.entity("E3", e[founder].name)
        e2 = b.entity("E2", e[city].name)
        e1 = b.entity("E1", e[country].name)
        e0 = b.entity("E0", language)
        rubric(f"The {s.name} was founded by {e3}.", start, "founder", e[founder].name)
        rubric(f"{e3} was born in {e2}.", founder, "birthplace", e[city].name)
        rubric(f"{e2} is a city in {e1}.", city, "intro", e[country].name)
        rubric(f"The official language of {e1} is {e0}.", country, "language", language)
        prompt = (
            f"What is the official language of the country where the founder of the "
            f"{s.name} was born?"
        )
        space = [c.attrs["language"] for c in world.of_kind("country")]
    else:
        raise ValueError(f"unknown fictional template {template!r}")
    task_id = _task_id(f"fw{world.seed}", template, start, str(len(world.entities)))
    return b.task(task_id, prompt, template, tuple(sorted(space)), [s.name])


_FICTIONAL_TEMPLATES = {
    "employer_hq_country": "person",
    "event_organiser_founder": "event",
    "birthplace_country_capital": "person",
    "event_country_currency": "event",
    "founder_birthplace_language": "organisation",
}


def fictional_tasks(seed: int = 0, n_entities: int = 200, n: int | None = None) -> TaskSet:
    """Multi-hop questions (2-4 hops) over :func:`~agentgym.envs.deepsearch.corpus.fictional_world`.

    Same gold format as :func:`factbook_tasks`; evidence URLs point into
    ``fictional_corpus(seed, n_entities)``.

    Args:
        seed: The world's seed (also orders the tasks).
        n_entities: The world's size.
        n: How many tasks to keep (all when ``None``).

    Returns:
        The tasks.

    Examples:
        >>> tasks = fictional_tasks(seed=0, n_entities=40)
        >>> len(tasks) > 20, tasks.ids == fictional_tasks(seed=0, n_entities=40).ids
        (True, True)
        >>> sorted({t.metadata["hops"] for t in tasks})
        [2, 3, 4]
    """
    world = fictional_world(seed, n_entities)
    corpus = world.corpus()
    tasks = []
    for template, kind in _FICTIONAL_TEMPLATES.items():
        for entity in world.of_kind(kind):
            try:
                tasks.append(_fictional_chain(world, corpus, template, entity.id))
            except Rejected:
                continue
    return _select(sorted(tasks, key=lambda t: t.id), seed, n)


# --------------------------------------------------------------------------------------------------
# HotpotQA


def _read_hotpot(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:  # not one JSON document: JSON Lines (a bad line raises JSONLError, a ValueError)
        data = list(read_jsonl(path))
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of HotpotQA examples")
    for i, example in enumerate(data):
        if not isinstance(example, dict):
            raise ValueError(f"{path}: example {i} is not an object")
        for key in ("question", "answer", "context"):
            if key not in example:
                raise ValueError(f"{path}: example {i} ({example.get('_id', '?')}) has no {key!r}")
    return data


def _hotpot_url(title: str) -> str:
    return "hotpotqa://" + title.replace(" ", "_")


def _hotpot_pages(examples: Iterable[Mapping[str, Any]]) -> dict[str, Page]:
    lines_by_title: dict[str, list[str]] = {}
    for example in examples:
        for title, sentences in example["context"]:
            lines = lines_by_title.setdefault(title, [])
            for sentence in sentences:
                sentence = " ".join(sentence.split())
                if sentence and sentence not in lines:
                    lines.append(sentence)
    return {t: Page(_hotpot_url(t), t, "\n".join(lines)) for t, lines in lines_by_title.items()}


def hotpotqa_corpus(path: str | os.PathLike[str]) -> Corpus:
    """The context paragraphs of a HotpotQA-format file as a corpus (one page per title).

    Each sentence is a line; a title that appears in several examples gets the union of its
    sentences. URLs are ``hotpotqa://<Title_with_underscores>``.
    """
    return Corpus(_hotpot_pages(_read_hotpot(path)).values(), name=Path(path).name)


def hotpotqa_tasks(path: str | os.PathLike[str]) -> TaskSet:
    """Load HotpotQA-format questions (a JSON list, or JSONL) from a user path.

    Each example needs ``question``, ``answer`` and ``context`` (``[[title, [sentences]], ...]``);
    ``_id``, ``supporting_facts`` (``[[title, sentence_index], ...]``), ``type`` and ``level`` are
    used when present. HotpotQA has no rubric decomposition, so ``gold["rubrics"]`` is empty and
    ``gold["evidence"]`` lists the supporting sentences with their page URLs
    (in :func:`hotpotqa_corpus` of the same file).

    Args:
        path: The file.

    Returns:
        The tasks (ids ``hotpot-<_id>``), split by :func:`agentgym.core.split_of`.

    Raises:
        ValueError: If the file is not HotpotQA-shaped (the message names the file and example).
    """
    examples = _read_hotpot(path)
    tasks = []
    for i, example in enumerate(examples):
        raw_id = str(
            example.get("_id")
            or example.get("id")
            or hashlib.sha256(example["question"].encode()).hexdigest()[:12]
        )
        task_id = f"hotpot-{raw_id}"
        context = {title: sentences for title, sentences in example["context"]}
        evidence = []
        for fact in example.get("supporting_facts") or []:
            title, index = fact[0], fact[1]
            sentences = context.get(title, [])
            if isinstance(index, int) and 0 <= index < len(sentences):
                evidence.append(
                    {
                        "evidence_url": _hotpot_url(title),
                        "evidence": " ".join(sentences[index].split()),
                    }
                )
        titles = {e["evidence_url"] for e in evidence}
        hops = max(1, len(titles))
        answer = str(example["answer"])
        gold = {
            "answer": answer,
            "aliases": [],
            "entities": {"E0": [answer]},
            "rubrics": [],
            "evidence": evidence,
        }
        if answer.lower() in ("yes", "no"):
            gold["candidates"] = ("yes", "no")
        level = example.get("level")
        metadata = {
            "hops": hops,
            "difficulty": level
            if level in ("easy", "medium", "hard")
            else DIFFICULTY.get(hops, "hard"),
            "template": "hotpotqa",
            "type": example.get("type"),
            "source_index": i,
        }
        tasks.append(Task(task_id, example["question"], gold, metadata, split_of(task_id)))
    return TaskSet(tasks)


# --------------------------------------------------------------------------------------------------
# A user's own questions


def qa_jsonl_tasks(path: str | os.PathLike[str]) -> TaskSet:
    """Load a user's questions for a user's corpus: one JSON object per line.

    Each line needs ``question`` and ``answer``; ``id``, ``aliases``, ``entities`` and ``rubrics``
    (the gold format above, with evidence URLs into the user's corpus) are used when present.
    Without an ``id``, the id hashes the question, so it is stable across runs.

    Args:
        path: The JSONL file.

    Returns:
        The tasks, split by :func:`agentgym.core.split_of`.

    Raises:
        ValueError: ``file:line: what is wrong`` for a malformed line, a duplicate id, or an empty file.

    Examples:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = pathlib.Path(d) / "qa.jsonl"
        ...     _ = path.write_text('{"question": "Capital of Peru?", "answer": "Lima"}' + chr(10))
        ...     tasks = qa_jsonl_tasks(path)
        >>> tasks[0].prompt, tasks[0].gold["entities"]
        ('Capital of Peru?', {'E0': ['Lima']})
    """
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for _, number, record in read_jsonl(path, located=True):  # a line that is not JSON raises JSONLError
        where = f"{path}:{number}"
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
        for key in ("question", "answer"):
            if not isinstance(record.get(key), str) or not record[key].strip():
                raise ValueError(f"{where}: {key!r} must be a non-empty string")
        task_id = str(record.get("id") or "qa-" + hashlib.sha256(record["question"].encode()).hexdigest()[:12])
        if task_id in seen:
            raise ValueError(f"{where}: duplicate id {task_id!r} (first on line {seen[task_id]})")
        seen[task_id] = number
        aliases = [str(alias) for alias in record.get("aliases", [])]
        gold = {
            "answer": record["answer"],
            "aliases": aliases,
            "entities": record.get("entities") or {"E0": [record["answer"], *aliases]},
            "rubrics": list(record.get("rubrics", [])),
        }
        tasks.append(Task(task_id, record["question"], gold, {"source": str(path)}, split_of(task_id)))
    if not tasks:
        raise ValueError(f"{path}: no questions (the file is empty)")
    return TaskSet(tasks)
