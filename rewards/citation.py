"""CaRR citation-aware rubric rewards and the C-GRPO group combination.

CaRR (Citation-aware Rubric Rewards, THUDM/CaRR) scores a deep-search answer by the evidence
chain behind it, not only by the final entity. A multi-hop question is split offline into
single-hop *rubrics* with entity placeholders: ``<E0>`` is the answer entity, ``<E1>``, ``<E2>``...
are hidden intermediate entities. A rubric earns credit when

1. every entity it mentions is identified in the agent's final response,
2. it is supported by pages the response cites, counting only pages the agent actually saw, and
3. it is connected to ``<E0>`` through other supported rubrics (breadth-first search over
   entities; the ``bfs=False`` ablation drops this requirement).

``R_rubric = (#rubrics reached from E0) / (#rubrics)``, in [0, 1]; the denominator counts every
rubric, identified or not. :func:`c_grpo_rewards` then mixes it with the outcome reward over a
GRPO group.

Paper: Zhang et al., 2026, "Chaining the Evidence: Robust Reinforcement Learning for Deep Search Agents
with Citation-Aware Rubric Rewards" (arXiv 2601.06021). Code: ``THUDM/CaRR``,
``deepsearch_rm_with_rubrics/launch_server.py`` (``get_rubric_reward``, ``get_outcome_reward``) and the
C-GRPO combination in ``slime/slime/rollout/sglang_rollout.py`` (``generate_and_rm_group``).

Gold data read from ``task.gold`` (the DeepSearch env emits exactly this)::

    {
        "rubrics": [
            {
                "text": "<E0> is the capital of <E1>.",           # required
                "evidence_url": "https://factbook.local/argentina",  # for the rule-based check
                "evidence": "Buenos Aires is the capital of Argentina.",
            },
            ...
        ],
        "entities": {                                             # for the rule-based check
            "E0": ["Buenos Aires", "Ciudad de Buenos Aires"],     # E0 is the answer entity
            "E1": ["Argentina", "Argentine Republic"],            # first alias = canonical name
        },
    }

A rubric may also be a bare string (the text), as CaRR's own data ships them, and an entity may
map to a single string instead of a list of aliases.

What the reward reads from the trajectory:

* The response: :func:`~agentgym.rewards.base.final_response`, cut before its last
  ``## References`` heading (as CaRR's server does, so only in-text citations count).
* Citations: markdown links ``[n](url)`` or ``[text](url)`` in the response (``strict_citations``
  uses CaRR's own pattern, which needs ``[[n](url)]`` or ``[n](url),``). URLs are compared after
  stripping ``view-source:``, ``r.jina.ai/`` proxies, trailing punctuation and trailing ``/``.
* What the agent saw (:func:`seen_urls`): the URLs in the observations of its valid steps (search
  results, opened pages) and the URL-valued arguments of its valid tool calls (``open(url=...)``).
  Invalid steps and the final-answer step are ignored, so neither an error message that echoes
  the agent's text nor the answer itself can make a URL "seen". A citation to a URL the agent
  never saw earns nothing; at most ``max_citations`` (20) seen URLs are kept, in citation order.

Each stage has a rule-based path (gold known, no model, fast) and a judge path (a
:data:`~agentgym.rewards.base.Judge`, CaRR's LLM prompts); ``"auto"`` picks the rule where the
gold data allows it:

* Identification, rule: entity ``Ek`` is identified when one of its aliases appears in the
  normalized response (lowercase, punctuation and articles removed, whole words). Judge: the judge
  names each entity or ``null`` in a JSON block, as in CaRR's ``identify_entity`` prompt.
* Support, rule: a rubric is supported when its ``evidence_url`` is a valid citation **and** its
  normalized ``evidence`` sentence occurs in the normalized text of an observation *from that
  URL*: the observation of a valid step whose tool-call arguments include the URL (the page was
  opened) or whose observation text contains the URL (a search result listing it). Judge: the
  judge gets the contents the agent saw for the valid cited URLs and returns ``{"S1": true, ...}``.

Code-faithful vs paper: the stages, the all-rubrics denominator, the 20-citation cap, the retry
count (5) and the judge-output validation follow ``launch_server.py::get_rubric_reward``; the
rule-based identification and support checks are this library's model-free stand-ins for the
LLM judge, for tasks whose gold evidence is known. CaRR's ``browser.find`` results are not
attributed to the open page here.
"""

from __future__ import annotations

import ast
import bisect
import functools
import json
import re
import string
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agentgym.core import Task
from agentgym.messages import between, decode_arguments
from agentgym.rewards.base import Judge, RewardResult, final_response
from agentgym.trajectory import Trajectory

__all__ = [
    "IDENTIFY_ENTITY_PROMPT",
    "JUDGE_RUBRIC_PROMPT",
    "CitationRubric",
    "c_grpo_rewards",
    "extract_citations",
    "normalize_text",
    "parse_json_reply",
    "rubric_reachability",
    "seen_urls",
]

Mode = Literal["auto", "rule", "judge"]

# --------------------------------------------------------------------------------------------------
# Text and URL helpers

# A regex class deletes punctuation about five times faster than str.translate with a table.
_PUNCTUATION = re.compile("[" + re.escape(string.punctuation + "‘’“”–—…«»") + "]")
_ARTICLES = (" a ", " an ", " the ")
_ENTITY = re.compile(r"<(E\d+)>")
# A URL of any scheme (http, https, and corpus schemes such as factbook://), allowing one level
# of balanced parentheses (Wikipedia titles such as Mercury_(planet)).
# The scheme is at most 32 characters: unbounded, every position of a long single token started a
# scan to its end looking for "://" (a 200 KB token took a minute).
_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]{0,31}://"
_URL = re.compile(_SCHEME + r"(?:[^\s<>\"'`\[\]{}()|\\^]|\([^\s()<>]*\))+")
_CITATION = re.compile(
    r"\[[^\[\]\n]*\]\(\s*((?:view-source:)?" + _SCHEME + r"(?:[^\s()]|\([^\s()]*\))+)\s*\)"
)
# CaRR's citation is ``[n](url)`` followed by ``]`` or ``,``; the URL may hold ")" and runs to the
# first ")]" or ")," on its line. Found by _carr_citations in linear time (the regex
# \[\d+\]\((https?://.+?)\)[\],] rescanned the rest of the line from every unclosed start).
_CARR_START = re.compile(r"\[\d+\]\((?:view-source:)?(?=https?://)")
_CARR_END = re.compile(r"\)[\],]")
_PROXIES = ("https://r.jina.ai/", "http://r.jina.ai/", "view-source:")
_REFERENCES = "## References"


@functools.lru_cache(maxsize=4096)
def normalize_text(text: str) -> str:
    """Normalize text for matching: lowercase, drop punctuation and articles, collapse spaces.

    The Search-R1 ``normalize_answer`` recipe, with curly quotes and dashes counted as
    punctuation too. Results are memoized: a per-step reward re-reads the same observations at
    every step of an episode.

    Args:
        text: Any text.

    Returns:
        The normalized text: words separated by single spaces.

    Examples:
        >>> normalize_text("The Eiffel Tower!")
        'eiffel tower'
        >>> normalize_text("  An apple, a Day ")
        'apple day'
    """
    text = f" {' '.join(_PUNCTUATION.sub('', text.lower()).split())} "
    for article in _ARTICLES:  # str.replace is far faster than filtering words in Python
        while article in text:
            text = text.replace(article, " ")
    return text.strip()


def _canonical_url(url: str) -> str:
    url = url.strip()
    for proxy in _PROXIES:
        if proxy in url:
            url = url.replace(proxy, "")
    return url.rstrip(".,;:!?'\"").rstrip("/")


def extract_citations(text: str, *, strict: bool = False) -> list[str]:
    r"""The URLs a response cites, deduplicated, in order of first citation.

    Args:
        text: The response.
        strict: Use CaRR's own pattern, ``\[\d+\]\((https?://.+?)\)[\],]``, which only
            accepts ``[[n](url)]`` or ``[n](url),``. Otherwise any markdown link
            ``[n](url)`` / ``[text](url)`` counts.

    Returns:
        Canonical URLs (proxies such as ``r.jina.ai/`` and trailing ``/`` stripped).

    Examples:
        >>> extract_citations("Lima [1](https://a.org/x) and [the page](http://b.org/y/) [2](https://a.org/x)")
        ['https://a.org/x', 'http://b.org/y']
        >>> extract_citations("Borders [3](factbook://chile/geography)")
        ['factbook://chile/geography']
        >>> extract_citations("Lima [[1](https://a.org/x)] [2](https://b.org/y).", strict=True)
        ['https://a.org/x']
    """
    urls: dict[str, None] = {}
    for raw in _carr_citations(text) if strict else _CITATION.findall(text):
        urls.setdefault(_canonical_url(raw), None)
    return list(urls)


def _carr_citations(text: str) -> list[str]:
    """The URLs of CaRR's strict citations, as ``re.findall`` of the regex in the comment above gives them.

    Examples:
        >>> _carr_citations("[1](https://a.org/x_(y))], [2](https://b.org/z), [3](https://c)")
        ['https://a.org/x_(y)', 'https://b.org/z']
    """
    ends = [match.start() for match in _CARR_END.finditer(text)]
    urls = []
    position = 0
    for match in _CARR_START.finditer(text):
        if match.start() < position:
            continue  # inside the citation found last
        url_start = match.end()
        shortest = text.index("//", url_start) + 3  # the scheme, "//" and at least one character
        found = bisect.bisect_left(ends, shortest)
        if found == len(ends):
            break  # no ")]" or ")," after it: none after any later start either
        end = ends[found]
        if "\n" in text[url_start:end]:
            continue  # the URL may not span lines
        urls.append(text[url_start:end])
        position = end + 2
    return urls


def _argument_urls(arguments: Any) -> list[str]:
    """The canonical URLs among a tool call's argument values that are a URL and nothing else."""
    arguments, _ = decode_arguments(arguments)
    if not isinstance(arguments, Mapping):
        return []
    found = []
    for value in arguments.values():
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, str) and _URL.fullmatch(item.strip()):
                found.append(_canonical_url(item))
    return found


@dataclass
class _SeenIndex:
    """What the agent saw: for each valid step, the URLs it refers to and its observation."""

    urls: set[str]
    step_urls: list[set[str]]
    observations: list[str]


def _index(trajectory: Trajectory) -> _SeenIndex:
    seen: set[str] = set()
    step_urls: list[set[str]] = []
    observations: list[str] = []
    for step in trajectory.steps:
        if step.invalid_action or step.info.get("final"):
            continue
        refers = set()
        for call in step.tool_calls:
            refers.update(_argument_urls(call.get("arguments")))
        observation = step.observation
        if "http" in observation:
            refers.update(_canonical_url(url) for url in _URL.findall(observation))
        seen |= refers
        step_urls.append(refers)
        observations.append(observation)
    return _SeenIndex(seen, step_urls, observations)


def seen_urls(trajectory: Trajectory) -> set[str]:
    """The URLs the agent saw: in valid observations, or as the argument of a valid tool call.

    Observations of invalid steps (error messages that may echo the agent's own text) and the
    final-answer step (``step.info["final"]``) do not count.

    Args:
        trajectory: The episode.

    Returns:
        Canonical URLs.

    Examples:
        >>> from agentgym.trajectory import Step
        >>> search = {"name": "search", "arguments": {"query": "x"}, "id": "1"}
        >>> open_ = {"name": "open", "arguments": {"url": "https://b.org/"}, "id": "2"}
        >>> t = Trajectory("e", "t", steps=[
        ...     Step("...", tool_calls=[search], observation="[1] Lima https://a.org/lima"),
        ...     Step("...", tool_calls=[open_], observation="Lima is the capital of Peru."),
        ...     Step("...", observation="unknown tool: https://c.org", invalid_action=True),
        ... ])
        >>> sorted(seen_urls(t))
        ['https://a.org/lima', 'https://b.org']
    """
    return _index(trajectory).urls


# --------------------------------------------------------------------------------------------------
# Judge replies and prompts

#: Only the end of a judge's reply is searched for a bare ``{...}`` object: its verdict is short, and
#: trying every ``{`` of a long reply is quadratic.
_MAX_BARE_JSON_CHARS = 20_000
#: Only the last fenced blocks of a judge's reply are tried.
_MAX_FENCED_BLOCKS = 32
_PY_LITERALS = re.compile(r"\b(true|false|null)\b")


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    python = _PY_LITERALS.sub(lambda m: {"true": "True", "false": "False"}.get(m[1], "None"), text)
    try:
        return ast.literal_eval(python)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def parse_json_reply(reply: str) -> dict[str, Any] | None:
    r"""The JSON object a judge reply ends with.

    Tries the fenced code blocks (last first), then the last ``{...}`` object in the text. JSON
    and Python-style literals (single quotes, ``True``) are both accepted.

    Args:
        reply: The judge's reply text.

    Returns:
        The object, or ``None`` if the reply holds none.

    Examples:
        >>> parse_json_reply('## Analysis ... ```json\n{"E0": "Lima", "E1": null}\n```')
        {'E0': 'Lima', 'E1': None}
        >>> parse_json_reply("Verdict: {'S1': true, 'S2': False} done")
        {'S1': True, 'S2': False}
        >>> parse_json_reply("no json here") is None
        True
    """
    # Not a regex (```\s*(.*?)\s*``` backtracks cubically), and only the last blocks: a verdict ends
    # the reply, and parsing each of 30,000 empty blocks took seconds.
    for block in reversed(between(reply, "```", "```")[-_MAX_FENCED_BLOCKS:]):
        if block[:4].lower() == "json":
            block = block[4:]
        value = _loads(block.strip())
        if isinstance(value, dict):
            return value
    reply = reply[-_MAX_BARE_JSON_CHARS:]
    closing = _matching_braces(reply)
    found = None
    start = reply.find("{")
    while start != -1:
        end = closing.get(start, 0)
        value = _loads(reply[start:end]) if end else None
        if isinstance(value, dict):
            found = value
        start = reply.find("{", end if isinstance(value, dict) else start + 1)
    return found


def _matching_braces(text: str) -> dict[int, int]:
    """For each ``{`` that is closed, the index just past its ``}``; one pass over the text.

    Examples:
        >>> _matching_braces("{a{b}}{")
        {2: 5, 0: 6}
    """
    closing = {}
    opened: list[int] = []
    for index, char in enumerate(text):
        if char == "{":
            opened.append(index)
        elif char == "}" and opened:
            closing[opened.pop()] = index + 1
    return closing


IDENTIFY_ENTITY_PROMPT = """\
You are given a multi-hop question, the single-hop constraints it was decomposed into, and an \
AI assistant's response to the question.
In the constraints, <E0> stands for the final answer entity and <E1>, <E2>, ... for intermediate \
entities.

Find the real identity of every entity label that the response states explicitly. Do not guess \
or infer an identity the response does not state; use null for an entity it does not clearly \
identify.

First write a short analysis, one line per entity label. Then end with a JSON block holding \
exactly one key per entity label:
```json
{{"E0": "identity or null", "E1": "identity or null"}}
```

[Question]
{question}

[Constraints]
{constraints}

[Response]
{response}
"""

JUDGE_RUBRIC_PROMPT = """\
You are given the contents of several webpages and some single-hop factual statements S1, ..., Sn.
Decide for each statement whether it is fully supported by the webpage contents. For each one, \
quote the evidence that supports or contradicts it, explain your decision and end with \
"Fully Supported: yes" or "Fully Supported: no".

Finally, summarize in a JSON block that maps each statement label to true (fully supported) or \
false:
```json
{{"S1": true, "S2": false}}
```

[Webpage Contents]
{context}

[Statements]
{statements}
"""


# --------------------------------------------------------------------------------------------------
# Gold data


@dataclass(frozen=True)
class _Rubric:
    text: str
    entities: tuple[str, ...]  # placeholder ids in order of first mention, e.g. ("E0", "E1")
    evidence_url: str | None  # canonical
    evidence: str | None  # normalized


@dataclass(frozen=True)
class _Gold:
    rubrics: tuple[_Rubric, ...]
    entity_ids: tuple[str, ...]  # every id the rubrics mention, sorted by number
    names: Mapping[str, str]  # id -> canonical name
    aliases: Mapping[str, tuple[str, ...]]  # id -> normalized aliases, padded with spaces


def _read_gold(gold: Mapping[str, Any]) -> _Gold:
    rubrics = []
    for item in gold.get("rubrics") or ():
        if isinstance(item, str):
            item = {"text": item}
        text = str(item.get("text", ""))
        url, evidence = item.get("evidence_url"), item.get("evidence")
        rubrics.append(
            _Rubric(
                text=text,
                entities=tuple(dict.fromkeys(_ENTITY.findall(text))),
                evidence_url=_canonical_url(url) if url else None,
                evidence=normalize_text(evidence) if evidence else None,
            )
        )
    ids = sorted({e for r in rubrics for e in r.entities}, key=lambda e: int(e[1:]))
    names: dict[str, str] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    for eid, values in (gold.get("entities") or {}).items():
        values = [values] if isinstance(values, str) else list(values)
        normalized = tuple(f" {a} " for a in map(normalize_text, values) if a)
        if values and normalized:
            names[eid], aliases[eid] = str(values[0]), normalized
    return _Gold(tuple(rubrics), tuple(ids), names, aliases)


# --------------------------------------------------------------------------------------------------
# Connectivity and the group combination


def rubric_reachability(
    rubric_entities: Sequence[Sequence[str]], supported: Sequence[bool]
) -> set[int]:
    """The rubrics reached from ``E0`` by breadth-first search over supported rubrics.

    An entity reaches every supported rubric that mentions it; a reached rubric reaches all of
    its entities (CaRR ``get_rubric_reward``, stage 3).

    Args:
        rubric_entities: The entity ids each rubric mentions.
        supported: Whether each rubric is supported.

    Returns:
        The indices of the reached rubrics.

    Examples:
        Four rubrics of a three-hop question (R3 is not identified, so not supported):

        >>> entities = [["E0", "E1", "E2"], ["E1"], ["E2"], ["E3", "E0"]]
        >>> sorted(rubric_reachability(entities, [True, True, False, False]))
        [0, 1]
        >>> rubric_reachability(entities, [False, True, False, False])
        set()
    """
    by_entity: dict[str, list[int]] = {}
    for index, (entities, ok) in enumerate(zip(rubric_entities, supported, strict=True)):
        if ok:
            for entity in entities:
                by_entity.setdefault(entity, []).append(index)
    seen_entities = {"E0"}
    reached: set[int] = set()
    queue = deque(["E0"])
    while queue:
        for index in by_entity.get(queue.popleft(), ()):
            reached.add(index)
            for other in rubric_entities[index]:
                if other not in seen_entities:
                    seen_entities.add(other)
                    queue.append(other)
    return reached


def c_grpo_rewards(
    outcome: Sequence[float],
    rubric: Sequence[float],
    *,
    alpha: float = 0.3,
    normalize: bool = True,
    only_positive: bool = True,
    only_negative: bool = False,
    positive_normalized: bool = False,
) -> list[float]:
    """C-GRPO: mix the outcome and rubric rewards of one GRPO group (CaRR, arXiv 2601.06021).

    With ``r̃_i = R_rubric,i / max_j R_rubric,j`` over the whole group (``r̃ = R_rubric`` when the
    max is 0), and ``s = r̃`` if ``normalize`` else ``R_rubric``:

    * no flag: ``(1-α)·R_out + α·s``
    * ``only_positive``: ``R_out`` where ``R_out == 0``, else ``(1-α)·R_out + α·R_rubric``
    * ``only_negative`` (checked first): ``R_out`` where ``R_out > 0``, else ``α·s``

    Code-faithful by default: the defaults are the shipped recipe (``--rubric-reward-ratio 0.3
    --normalize-rubric-reward --rubric-only-positive``), whose positive branch uses the
    *un-normalized* ``R_rubric`` — the normalization is computed but unused
    (``slime/rollout/sglang_rollout.py::generate_and_rm_group``). ``positive_normalized=True`` is
    the possible paper variant that uses ``s`` there instead. The argparser's own defaults are
    ``alpha=0`` and no flags. Range with binary outcomes and ``only_positive``: correct answers
    get [1-α, 1], incorrect ones 0.

    Args:
        outcome: ``R_out`` per rollout of the group (1 correct, 0 incorrect).
        rubric: ``R_rubric`` per rollout, in [0, 1].
        alpha: The rubric weight α (``rubric_reward_ratio``).
        normalize: Divide the rubric rewards by the group max.
        only_positive: Give rubric credit to correct rollouts only.
        only_negative: Give rubric credit to incorrect rollouts only.
        positive_normalized: In the ``only_positive`` branch, use ``s`` instead of ``R_rubric``.

    Returns:
        The combined reward per rollout.

    Raises:
        ValueError: If the two sequences differ in length.

    Examples:
        A group of four: two right answers, two wrong, each with its rubric reward:

        >>> out, rub = [1, 1, 0, 0], [0.4, 0.6, 0.8, 0.0]
        >>> [round(x, 4) for x in c_grpo_rewards(out, rub)]
        [0.82, 0.88, 0.0, 0.0]
        >>> [round(x, 4) for x in c_grpo_rewards(out, rub, positive_normalized=True)]
        [0.85, 0.925, 0.0, 0.0]
        >>> [round(x, 4) for x in c_grpo_rewards(out, rub, normalize=False, only_positive=False)]
        [0.82, 0.88, 0.24, 0.0]
    """
    if len(outcome) != len(rubric):
        raise ValueError(f"{len(outcome)} outcome rewards but {len(rubric)} rubric rewards")
    top = max(rubric, default=0.0)
    combined = []
    for out, rub in zip(outcome, rubric, strict=True):
        scaled = (rub / top if top > 0 else rub) if normalize else rub
        if only_negative:
            value = out if out > 0 else alpha * scaled
        elif only_positive:
            positive = scaled if positive_normalized else rub
            value = out if out == 0 else (1 - alpha) * out + alpha * positive
        else:
            value = (1 - alpha) * out + alpha * scaled
        combined.append(float(value))
    return combined


# --------------------------------------------------------------------------------------------------
# The reward


class CitationRubric:
    """CaRR's citation-aware rubric reward for one trajectory (THUDM/CaRR, ``get_rubric_reward``).

    ``value = (#rubrics connected to E0 through supported rubrics) / (#rubrics)``, in [0, 1]
    (with ``bfs=False``: ``#supported / #rubrics``, CaRR's ``--use-rubric-reward-nobfs``). The
    gold format, what counts as seen, and the rule-based and judge paths are described in the
    module docstring. The reward is 0 when the task has no rubrics, the agent gave no final
    answer, no rubric has all its entities identified, no cited URL was seen, or the judge fails
    ``max_tries`` times to give a valid reply (CaRR's early exits); ``details["error"]`` says which.

    Code-faithful: the staging and early exits of CaRR's server, its BFS and denominator. The
    rule-based paths (``identify``/``support`` = ``"rule"``) are this library's model-free
    checks for gold evidence; the judge paths use CaRR's prompts in this library's words and
    its output validation (keys must be exactly the entity / statement labels).

    Args:
        judge: The judge for the judge paths; not needed when every stage can use the rule.
        identify: ``"rule"`` (gold aliases), ``"judge"``, or ``"auto"``: the rule when
            ``task.gold["entities"]`` is given, else the judge.
        support: ``"rule"`` (gold evidence), ``"judge"``, or ``"auto"``: the rule for rubrics
            with ``evidence_url`` and ``evidence``, the judge for the others.
        bfs: Require connectivity to ``E0`` (``False``: the no-BFS ablation).
        strict_citations: Extract citations with CaRR's own regex (see :func:`extract_citations`).
        max_citations: Keep at most this many seen cited URLs (CaRR: 20).
        max_tries: Judge attempts per stage before the reward falls back to 0 (CaRR: 5).

    Examples:
        >>> from agentgym.trajectory import Step
        >>> task = Task("q1", "Which capital ...?", gold={
        ...     "rubrics": [{"text": "<E0> is the capital of <E1>.",
        ...                  "evidence_url": "https://f.org/ar",
        ...                  "evidence": "Buenos Aires is the capital of Argentina."}],
        ...     "entities": {"E0": ["Buenos Aires"], "E1": ["Argentina"]}})
        >>> call = {"name": "open", "arguments": {"url": "https://f.org/ar"}, "id": "1"}
        >>> opened = Step("...", tool_calls=[call],
        ...               observation="Argentina. Buenos Aires is the capital of Argentina.")
        >>> answer = Step("...", info={"final": {"name": "answer", "arguments": {
        ...     "text": "Buenos Aires, capital of Argentina [1](https://f.org/ar)."}}})
        >>> result = CitationRubric()(Trajectory("e", "q1", steps=[opened, answer]), task)
        >>> result.value, result.details["supported_rubrics"], result.details["valid_citations"]
        (1.0, [0], ['https://f.org/ar'])
    """

    def __init__(
        self,
        judge: Judge | None = None,
        *,
        identify: Mode = "auto",
        support: Mode = "auto",
        bfs: bool = True,
        strict_citations: bool = False,
        max_citations: int = 20,
        max_tries: int = 5,
    ) -> None:
        if identify not in ("auto", "rule", "judge") or support not in ("auto", "rule", "judge"):
            raise ValueError(
                f"identify and support must be auto/rule/judge, got {identify}, {support}"
            )
        if judge is None and "judge" in (identify, support):
            raise ValueError("the judge paths need a judge")
        self.judge = judge
        self.identify = identify
        self.support = support
        self.bfs = bfs
        self.strict_citations = strict_citations
        self.max_citations = max_citations
        self.max_tries = max_tries

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory (see the class docstring)."""
        return self._score(trajectory, task, _read_gold(task.gold))

    def batch(
        self, trajectories: Sequence[Trajectory], tasks: Sequence[Task]
    ) -> list[RewardResult]:
        """Score many trajectories, reading each distinct task's gold data once.

        Args:
            trajectories: The trajectories.
            tasks: Their tasks, aligned with ``trajectories``.

        Returns:
            One result per trajectory, in order.

        Raises:
            ValueError: If the two sequences differ in length.
        """
        if len(trajectories) != len(tasks):
            raise ValueError(f"{len(trajectories)} trajectories but {len(tasks)} tasks")
        cache: dict[tuple[str, int], tuple[Mapping[str, Any], _Gold]] = {}
        results = []
        for trajectory, task in zip(trajectories, tasks, strict=True):
            key = (task.id, id(task.gold))
            if key not in cache:  # the gold object is kept alive, so its id stays unique
                cache[key] = (task.gold, _read_gold(task.gold))
            results.append(self._score(trajectory, task, cache[key][1]))
        return results

    # ---- stages ---------------------------------------------------------------------------------

    def _score(self, trajectory: Trajectory, task: Task, gold: _Gold) -> RewardResult:
        n = len(gold.rubrics)
        details: dict[str, Any] = {
            "rubric_reward": 0.0,
            "supported_fraction": 0.0,
            "n_rubrics": n,
            "identified_entities": {},
            "identified_rubrics": [],
            "cited_urls": [],
            "valid_citations": [],
            "supported_rubrics": [],
            "connected_rubrics": [],
            "error": None,
        }
        if n == 0:
            return self._fail(details, "no rubrics")
        answer = final_response(trajectory)
        if answer is None:
            return self._fail(details, "no final answer")
        response = answer.rsplit(_REFERENCES, 1)[0].strip() if _REFERENCES in answer else answer

        # 1. Entity identification.
        entities = self._identify(response, task, gold)
        if entities is None:
            return self._fail(details, "judge failed to identify entities")
        details["identified_entities"] = entities
        identified = [
            i for i, r in enumerate(gold.rubrics) if all(entities.get(e) for e in r.entities)
        ]
        details["identified_rubrics"] = identified
        if not identified:
            return self._fail(details, "no rubric has all its entities identified")

        # 2. Citations restricted to what the agent saw.
        cited = extract_citations(response, strict=self.strict_citations)
        seen = _index(trajectory)
        valid = [url for url in cited if url in seen.urls][: self.max_citations]
        details["cited_urls"], details["valid_citations"] = cited, valid
        if not valid:
            return self._fail(details, "no cited URL was seen by the agent")

        # 3. Support.
        supported = self._supported(identified, entities, valid, seen, gold)
        if supported is None:
            return self._fail(details, "judge failed to judge the rubrics")
        flags = [i in supported for i in range(n)]
        details["supported_rubrics"] = sorted(supported)
        details["supported_fraction"] = len(supported) / n

        # 4. Connectivity to the answer entity.
        connected = rubric_reachability([r.entities for r in gold.rubrics], flags)
        details["connected_rubrics"] = sorted(connected)
        details["rubric_reward"] = len(connected) / n
        value = details["rubric_reward"] if self.bfs else details["supported_fraction"]
        return RewardResult(value, details=details)

    @staticmethod
    def _fail(details: dict[str, Any], reason: str) -> RewardResult:
        details["error"] = reason
        return RewardResult(0.0, details=details)

    def _identify(self, response: str, task: Task, gold: _Gold) -> dict[str, str | None] | None:
        mode = self.identify
        if mode == "auto":
            mode = "rule" if gold.aliases else "judge"
        if mode == "rule":
            text = f" {normalize_text(_URL.sub(' ', response))} "
            return {
                eid: gold.names[eid]
                if any(alias in text for alias in gold.aliases.get(eid, ()))
                else None
                for eid in gold.entity_ids
            }
        judge = self._need_judge()
        constraints = "\n".join(f"C{i + 1}. {r.text}" for i, r in enumerate(gold.rubrics))
        prompt = IDENTIFY_ENTITY_PROMPT.format(
            question=task.prompt, constraints=constraints, response=response
        )
        for _ in range(self.max_tries):
            values = _valid_entities(parse_json_reply(judge(prompt)), gold.entity_ids)
            if values is not None:
                return values
        return None

    def _supported(
        self,
        identified: list[int],
        entities: Mapping[str, str | None],
        valid: list[str],
        seen: _SeenIndex,
        gold: _Gold,
    ) -> set[int] | None:
        valid_set = set(valid)
        supported: set[int] = set()
        ask_judge: list[int] = []
        normalized: dict[int, str] = {}  # observation index -> normalized text, computed once
        for index in identified:
            rubric = gold.rubrics[index]
            has_gold = rubric.evidence_url is not None and rubric.evidence is not None
            if self.support == "judge" or (self.support == "auto" and not has_gold):
                ask_judge.append(index)
            elif has_gold and rubric.evidence_url in valid_set:
                for k, refers in enumerate(seen.step_urls):
                    if rubric.evidence_url in refers:
                        if k not in normalized:
                            normalized[k] = f" {normalize_text(seen.observations[k])} "
                        if f" {rubric.evidence} " in normalized[k]:
                            supported.add(index)
                            break
        if not ask_judge:
            return supported
        judged = self._judge_support(ask_judge, entities, valid, seen, gold)
        return None if judged is None else supported | judged

    def _judge_support(
        self,
        indices: list[int],
        entities: Mapping[str, str | None],
        valid: list[str],
        seen: _SeenIndex,
        gold: _Gold,
    ) -> set[int] | None:
        judge = self._need_judge()
        pages, shown = [], set()
        for number, url in enumerate(valid, 1):
            texts = []
            for refers, observation in zip(seen.step_urls, seen.observations, strict=True):
                if url in refers and observation.strip() and observation not in shown:
                    shown.add(observation)
                    texts.append(observation.strip())
            pages.append(f"[Webpage {number}]\nURL Source: {url}\n\n" + "\n\n".join(texts))
        labels = {f"S{k + 1}": index for k, index in enumerate(indices)}
        statements = "\n".join(
            f"{label}. {_fill(gold.rubrics[index].text, entities)}"
            for label, index in labels.items()
        )
        prompt = JUDGE_RUBRIC_PROMPT.format(context="\n\n".join(pages), statements=statements)
        for _ in range(self.max_tries):
            verdicts = _valid_verdicts(parse_json_reply(judge(prompt)), labels)
            if verdicts is not None:
                return {labels[label] for label, ok in verdicts.items() if ok}
        return None

    def _need_judge(self) -> Judge:
        if self.judge is None:
            raise ValueError(
                "this task needs the judge path (no gold entities or evidence): pass judge=..."
            )
        return self.judge


def _fill(text: str, entities: Mapping[str, str | None]) -> str:
    return _ENTITY.sub(lambda m: str(entities.get(m[1]) or m[0]), text)


def _valid_entities(values: Any, entity_ids: Iterable[str]) -> dict[str, str | None] | None:
    """CaRR's ``check_identified_entities``: exactly the rubric's ids, each a string or null."""
    if not isinstance(values, dict) or set(values) != set(entity_ids):
        return None
    cleaned: dict[str, str | None] = {}
    for eid, value in values.items():
        if value is not None and not isinstance(value, str):
            return None
        if isinstance(value, str) and value.lower().strip() in ("null", "none"):
            return None  # CaRR rejects the whole reply, and asks again
        cleaned[eid] = value.strip() if value and value.strip() else None
    return cleaned


_YES_NO = {"true": True, "yes": True, "false": False, "no": False}


def _valid_verdicts(values: Any, labels: Mapping[str, int]) -> dict[str, bool] | None:
    """CaRR's ``check_rubric_judgement``: exactly the statement labels, each a boolean.

    Also accepts the strings ``"true"``/``"yes"``/``"false"``/``"no"`` for a boolean.
    """
    if not isinstance(values, dict) or set(values) != set(labels):
        return None
    verdicts = {}
    for label, value in values.items():
        if isinstance(value, str):
            value = _YES_NO.get(value.strip().lower(), value)
        if not isinstance(value, bool):
            return None
        verdicts[label] = value
    return verdicts
