"""Outcome rewards on the agent's final answer: exact match, sub-EM, token F1, numeric match.

Everything here follows Search-R1 (Jin et al., 2025, "Search-R1: Training LLMs to Reason and
Leverage Search Engines with Reinforcement Learning", arXiv 2503.09516), code
``PeterGriffinJin/Search-R1`` (``verl/utils/reward_score/qa_em.py`` and ``qa_em_format.py``):

* :func:`normalize_answer`: lowercase, delete every ``string.punctuation`` character, replace the
  articles ``a``/``an``/``the`` by a space, collapse whitespace (the SQuAD normalization the
  Search-R1 code copies).
* :func:`exact_match` / :func:`sub_exact_match` / :func:`f1_score`: string-level scores against a
  list of gold aliases (the best alias counts).
* :func:`search_r1_format_score`: the v0.3 format-aware reward table (0.2 structure, 0.1 final
  format) combined with EM exactly as ``qa_em_format.compute_score_em`` does.
* :func:`numeric_match`: numbers compared with relative and absolute tolerances, after parsing
  thousands separators, percent signs, currency symbols, units and scale words.

Each string-level function has a trajectory-level reward class (:class:`ExactMatch`,
:class:`SubExactMatch`, :class:`F1`, :class:`NumericMatch`, :class:`SearchR1Format`) that reads
the agent's answer with :func:`~agentgym.rewards.base.final_answer` and the gold aliases with
:func:`gold_answers`. An agent that never answered scores 0. The answer classes also have a
``batch`` form. :class:`AnswerFormat` checks only that an answer was given and every action was
well formed.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

from agentgym.core import Task
from agentgym.messages import answer_tags, between, content_text
from agentgym.rewards.base import RewardResult, final_answer
from agentgym.trajectory import Trajectory

__all__ = [
    "F1",
    "AnswerFormat",
    "ExactMatch",
    "NumericMatch",
    "SearchR1Format",
    "SubExactMatch",
    "exact_match",
    "extract_answer",
    "f1_score",
    "gold_answers",
    "is_retrieval_correct",
    "is_valid_sequence",
    "normalize_answer",
    "numeric_match",
    "parse_number",
    "search_r1_em_score",
    "search_r1_format_score",
    "sub_exact_match",
]

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Normalize an answer exactly as Search-R1's ``normalize_answer`` does.

    Lowercase, delete every character of ``string.punctuation``, replace the whole words
    ``a``/``an``/``the`` by a space, and collapse runs of whitespace to one space.

    Args:
        text: The answer.

    Returns:
        The normalized answer.

    Examples:
        >>> normalize_answer("The Eiffel Tower!")
        'eiffel tower'
        >>> normalize_answer("  An apple, a Day ")
        'apple day'
    """
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def _as_golds(golds: str | Iterable[str]) -> list[str]:
    return [golds] if isinstance(golds, str) else list(golds)


def exact_match(prediction: str | None, golds: str | Iterable[str]) -> float:
    """Search-R1 exact match: 1.0 if the normalized prediction equals some normalized gold.

    Args:
        prediction: The agent's answer; ``None`` (no answer) scores 0.
        golds: The gold answer or its aliases.

    Returns:
        1.0 or 0.0.

    Examples:
        >>> exact_match("the Eiffel tower.", ["Eiffel Tower"])
        1.0
        >>> exact_match("Eiffel Tower, Paris", "Eiffel Tower")
        0.0
    """
    if prediction is None:
        return 0.0
    normalized = normalize_answer(prediction)
    return float(any(normalize_answer(gold) == normalized for gold in _as_golds(golds)))


def sub_exact_match(prediction: str | None, golds: str | Iterable[str]) -> float:
    """Search-R1 sub-EM: 1.0 if some normalized gold is a substring of the normalized prediction.

    One guard beyond the code: a gold that normalizes to the empty string (``"The"``) matches
    nothing, since ``"" in s`` would make every prediction correct.

    Args:
        prediction: The agent's answer; ``None`` scores 0.
        golds: The gold answer or its aliases.

    Returns:
        1.0 or 0.0.

    Examples:
        >>> sub_exact_match("It is the Eiffel Tower, in Paris.", ["Eiffel Tower"])
        1.0
        >>> sub_exact_match("Eiffel", ["Eiffel Tower"])
        0.0
    """
    if prediction is None:
        return 0.0
    normalized = normalize_answer(prediction)
    for gold in _as_golds(golds):
        gold_normalized = normalize_answer(gold)
        if gold_normalized and gold_normalized in normalized:
            return 1.0
    return 0.0


def f1_score(prediction: str | None, golds: str | Iterable[str]) -> float:
    """Token-level F1 (SQuAD style, multiset overlap) of normalized tokens; the best gold counts.

    When either side has no tokens after normalization, the score is 1.0 if both are empty and
    0.0 otherwise (SQuAD v2's rule).

    Args:
        prediction: The agent's answer; ``None`` scores 0.
        golds: The gold answer or its aliases.

    Returns:
        The F1 in [0, 1].

    Examples:
        >>> f1_score("Eiffel Tower in Paris", "the Eiffel Tower")  # P = 2/4, R = 2/2
        0.6666666666666666
        >>> f1_score("Louvre", ["Eiffel Tower", "Louvre Museum"])
        0.6666666666666666
    """
    if prediction is None:
        return 0.0
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for gold in _as_golds(golds):
        expected = normalize_answer(gold).split()
        if not predicted or not expected:
            best = max(best, float(predicted == expected))
            continue
        same = sum((Counter(predicted) & Counter(expected)).values())
        if same == 0:
            continue
        precision = same / len(predicted)
        recall = same / len(expected)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


# --- numbers ---------------------------------------------------------------------------------

_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
# Spaces may follow a sign or a currency symbol only: a bare \s* before the digits made every space of
# a long run start a scan to its end (quadratic; 200 KB of spaces took minutes).
_NUMBER = re.compile(
    r"(?<![\w.])(?:([-+\u2212])(?:[$€£¥]\s*|\s*)|[$€£¥]\s*)?"
    r"(\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)"
    r"(?:[eE]([-+]?\d+))?"
    r"(?:\s*(thousand|million|billion|trillion)\b)?",
    re.IGNORECASE,
)


def parse_number(text: str | None) -> float | None:
    """The last number written in ``text``, or ``None`` if there is none.

    Understands thousands separators (``1,234,567``), signs (``-``, ``+`` and the Unicode minus
    ``−``), decimals (``.5``), exponents (``1e-3``), a currency symbol before the digits
    (``-$5``, ``$-5``), and the scale words thousand/million/billion/trillion. Percent signs and
    units after the number are ignored, so ``"35%"`` reads as ``35.0``, not ``0.35``. The *last*
    number is taken (the convention of GSM8K-style graders), so ``"about 3 km, i.e. 3,000 m"``
    reads as ``3000.0``. A digit run glued to letters before it (``"A4"``) is not a number.

    Args:
        text: The text.

    Returns:
        The number as a float, or ``None``.

    Examples:
        >>> parse_number("1,234,567 people")
        1234567.0
        >>> parse_number("−3.5 °C"), parse_number("-$5"), parse_number("35%")
        (-3.5, -5.0, 35.0)
        >>> parse_number("2.3 trillion dollars")
        2300000000000.0
        >>> parse_number("no digits") is None
        True
    """
    if not text:
        return None
    matches = _NUMBER.findall(text)
    if not matches:
        return None
    sign, digits, exponent, scale = matches[-1]
    # float() of the text, not 10.0 ** int(exponent): a huge exponent is inf, not an OverflowError or
    # a ValueError (Python's limit on the digits of an int).
    value = float(digits.replace(",", "") + (f"e{exponent}" if exponent else ""))
    if scale:
        value *= _SCALES[scale.lower()]
    if sign in ("-", "\u2212"):
        value = -value
    return value


def numeric_match(
    prediction: str | None,
    golds: str | float | Iterable[str | float],
    *,
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-9,
) -> float:
    """1.0 if the number in ``prediction`` is within tolerance of some gold number.

    Uses ``math.isclose(p, g, rel_tol=rel_tol, abs_tol=abs_tol)`` on the numbers
    :func:`parse_number` reads. The defaults accept only float noise; pass ``rel_tol=0.01`` for
    a 1% tolerance. A prediction or gold without a number never matches.

    Args:
        prediction: The agent's answer; ``None`` scores 0.
        golds: Gold numbers, or strings holding them.
        rel_tol: Relative tolerance.
        abs_tol: Absolute tolerance.

    Returns:
        1.0 or 0.0.

    Examples:
        >>> numeric_match("about 1,234,000", "1.234 million")
        1.0
        >>> numeric_match("3.14", "3.14159"), numeric_match("3.14", "3.14159", rel_tol=1e-3)
        (0.0, 1.0)
        >>> numeric_match("-12 %", [-12])
        1.0
    """
    predicted = parse_number(prediction)
    if predicted is None:
        return 0.0
    if isinstance(golds, (str, int, float)):
        golds = [golds]
    for gold in golds:
        expected = float(gold) if isinstance(gold, (int, float)) else parse_number(gold)
        if expected is not None and math.isclose(
            predicted, expected, rel_tol=rel_tol, abs_tol=abs_tol
        ):
            return 1.0
    return 0.0


# --- Search-R1 format-aware reward -----------------------------------------------------------

_ASSISTANT_MARKER = re.compile(r"<\|im_start\|>assistant\s*")
_TAG_SPLIT = re.compile(r"(</?(?:think|search|information|answer)>)")
_TAG = re.compile(r"</?(?:think|search|information|answer)>")
_TAG_COUNTS = {
    tag: (re.compile(f"<{tag}>"), re.compile(f"</{tag}>"))
    for tag in ("think", "search", "information", "answer")
}
# (state, tag) -> next state: the Search-R1 sequence
# start -> <think>..</think>
#       -> (<search>..</search> -> <information>..</information> -> <think>..</think>)*
#       -> <answer>..</answer> -> end
_TRANSITIONS = {
    ("start", "<think>"): "in_think",
    ("information", "<think>"): "in_think",
    ("in_think", "</think>"): "after_think",
    ("after_think", "<search>"): "in_search",
    ("in_search", "</search>"): "after_search",
    ("after_search", "<information>"): "in_information",
    ("in_information", "</information>"): "information",
    ("after_think", "<answer>"): "in_answer",
    ("in_answer", "</answer>"): "end",
}
_INSIDE = frozenset({"in_think", "in_search", "in_information", "in_answer"})


def extract_answer(text: str, min_matches: int = 1) -> str | None:
    """The last ``<answer>...</answer>`` in ``text``, stripped; ``None`` if there are too few.

    Search-R1's ``extract_solution`` scores prompt + response, where the prompt's own example
    ``<answer> Beijing </answer>`` is match number one, so it requires ``min_matches=2``. On a
    response alone, ``min_matches=1`` is the equivalent.

    Args:
        text: The text.
        min_matches: How many ``<answer>`` blocks there must be.

    Returns:
        The answer, or ``None``.

    Examples:
        >>> extract_answer("<answer> Beijing </answer> ... <answer>Paris</answer>", min_matches=2)
        'Paris'
        >>> extract_answer("<answer>Paris</answer>", min_matches=2) is None
        True
    """
    matches = answer_tags(text)
    if len(matches) < max(min_matches, 1):
        return None
    return matches[-1].strip()


def is_valid_sequence(text: str) -> tuple[bool, str]:
    r"""Search-R1's ``is_valid_sequence``: is the response a well-formed tag sequence?

    The response must be ``<think>…</think>``, then any number of
    ``<search>…</search><information>…</information><think>…</think>`` rounds, then
    ``<answer>…</answer>``, with tags balanced and only whitespace between them. As in the code,
    when ``text`` holds the ``<|im_start|>assistant`` marker only what follows it is checked.
    Unlike the code, a text without the marker is checked whole (as a bare response) instead of
    being rejected.

    Args:
        text: The response (or prompt + marker + response).

    Returns:
        ``(valid, reason)``.

    Examples:
        >>> is_valid_sequence("<think>hm</think>\n<answer>Paris</answer>")
        (True, 'Valid sequence format')
        >>> is_valid_sequence("I think <answer>Paris</answer>")[0]
        False
    """
    marker = _ASSISTANT_MARKER.search(text)
    content = text[marker.end() :] if marker else text
    for tag, (opening, closing) in _TAG_COUNTS.items():
        n_open, n_close = len(opening.findall(content)), len(closing.findall(content))
        if n_open != n_close:
            return False, f"Mismatch in {tag} tags: {n_open} opening vs {n_close} closing tags"
    state = "start"
    for part in _TAG_SPLIT.split(content):
        if not part.strip():
            continue
        if _TAG.match(part):
            following = _TRANSITIONS.get((state, part))
            if following is None:
                return False, f"Unexpected tag {part} in state {state}"
            state = following
        elif state not in _INSIDE:
            if state == "end":
                return False, f"Unexpected content in state {state}"
            return False, f"Unexpected content '{part.strip()}' between tags (state: {state})"
    if state != "end":
        return False, f"Incomplete sequence, ended in state {state}"
    return True, "Valid sequence format"


def is_retrieval_correct(text: str, golds: str | Iterable[str]) -> bool:
    """Whether some normalized gold is a substring of some normalized ``<information>`` block.

    Args:
        text: The response.
        golds: The gold answer or its aliases.

    Returns:
        Search-R1's ``retrieval_correct``.

    Examples:
        >>> text = "<information>Doc 1(Title: Paris) the Eiffel Tower</information>"
        >>> is_retrieval_correct(text, "Eiffel tower")
        True
    """
    golds = [normalize_answer(gold) for gold in _as_golds(golds)]
    for block in between(text, "<information>", "</information>"):
        normalized = normalize_answer(block.strip())
        if any(gold in normalized for gold in golds):
            return True
    return False


def search_r1_format_score(
    response: str,
    golds: str | Iterable[str],
    *,
    structure_format_score: float = 0.2,
    final_format_score: float = 0.1,
    retrieval_score: float = 0.0,
    score: float = 1.0,
    min_answer_tags: int = 1,
) -> float:
    r"""Search-R1's format-aware EM reward (``qa_em_format.compute_score_em``, v0.3 values).

    The code's table (defaults: structure 0.2, final 0.1, retrieval 0, score 1):

    ======== ===== ============ ==========================================
    answer   EM    valid format reward
    ======== ===== ============ ==========================================
    none     --    yes          ``structure`` (+ ``retrieval`` if retrieval correct) = 0.2
    none     --    no           0
    present  yes   yes          ``score`` = 1.0
    present  yes   no           ``score - structure`` = 0.8
    present  no    yes          ``structure`` (+ ``retrieval``) = 0.2
    present  no    no           ``final`` = 0.1
    ======== ===== ============ ==========================================

    Code-faithful, with one choice made explicit: the code scores prompt + response and needs
    two ``<answer>`` blocks (the prompt's example is the first). Here ``response`` is the
    response alone and one block suffices (``min_answer_tags=1``); pass the prompt + response and
    ``min_answer_tags=2`` to reproduce the code on its own input. Range: [0, ``score``].

    Args:
        response: The assistant side of the episode: completions and ``<information>`` blocks.
        golds: The gold answer or its aliases.
        structure_format_score: Reward for a valid sequence (subtracted from a correct answer
            with an invalid sequence).
        final_format_score: Reward for a wrong answer in an invalid sequence.
        retrieval_score: Bonus when valid and some ``<information>`` block holds a gold answer.
        score: Reward for a correct answer in a valid sequence.
        min_answer_tags: ``<answer>`` blocks needed for an answer to count (see above).

    Returns:
        The reward.

    Examples:
        >>> good = "<think>a</think>\n<answer>the Eiffel tower.</answer>"
        >>> search_r1_format_score(good, ["Eiffel Tower"])
        1.0
        >>> no_think = "<answer>the Eiffel tower.</answer>"
        >>> search_r1_format_score(no_think, ["Eiffel Tower"])
        0.8
    """
    valid, _ = is_valid_sequence(response)
    retrieval_correct = valid and is_retrieval_correct(response, golds)
    answer = extract_answer(response, min_matches=min_answer_tags)
    structure = structure_format_score + (retrieval_score if retrieval_correct else 0.0)
    if answer is None:
        return structure if valid else 0.0
    if exact_match(answer, golds):
        return score if valid else score - structure_format_score
    return structure if valid else final_format_score


def search_r1_em_score(
    solution_str: str, golds: str | Iterable[str], format_score: float = 0.0, score: float = 1.0
) -> float:
    """Search-R1's outcome-only reward (``qa_em.compute_score_em``), code-faithful.

    ``solution_str`` is prompt + response: the last ``<answer>`` counts, and only when there are
    at least two (the prompt's example is the first). EM gives ``score``; a wrong answer gives
    ``format_score``; no usable answer gives 0.

    Args:
        solution_str: Prompt + response.
        golds: The gold answer or its aliases.
        format_score: Reward for a wrong but extractable answer.
        score: Reward for a correct answer.

    Returns:
        The reward in {0, ``format_score``, ``score``}.

    Examples:
        >>> search_r1_em_score("<answer>Eiffel Tower</answer>", ["Eiffel Tower"])  # prompt absent
        0.0
        >>> with_prompt = "e.g. <answer> Beijing </answer> ... <answer>Eiffel Tower</answer>"
        >>> search_r1_em_score(with_prompt, ["Eiffel Tower"])
        1.0
    """
    answer = extract_answer(solution_str, min_matches=2)
    if answer is None:
        return 0.0
    return score if exact_match(answer, golds) else format_score


# --- trajectory-level rewards ----------------------------------------------------------------


def gold_answers(task: Task) -> list[str]:
    """A task's gold answers: ``gold["answer"]`` (a string or a list) plus ``gold["aliases"]``.

    Non-string golds (numbers) are turned into strings; duplicates are dropped, order is kept.

    Args:
        task: The task.

    Returns:
        The aliases, possibly empty.

    Examples:
        >>> gold = {"answer": "Paris", "aliases": ["City of Light"]}
        >>> gold_answers(Task(id="q", prompt="?", gold=gold))
        ['Paris', 'City of Light']
        >>> gold_answers(Task(id="q", prompt="?", gold={"answer": 42}))
        ['42']
    """
    gold = task.gold
    found: list[str] = []
    for key in ("answer", "aliases"):
        value = gold.get(key)
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            text = item if isinstance(item, str) else str(item)
            if text not in found:
                found.append(text)
    return found


class _AnswerReward:
    """Shared machinery: score ``metric(final_answer(trajectory), gold_answers(task))``."""

    name = "answer"

    def _score(self, answer: str | None, golds: list[str]) -> float:
        raise NotImplementedError

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        answer = final_answer(trajectory)
        value = 0.0 if answer is None else self._score(answer, gold_answers(task))
        return RewardResult(value, details={self.name: value, "answer": answer})

    def batch(
        self, trajectories: Sequence[Trajectory], tasks: Sequence[Task]
    ) -> list[RewardResult]:
        """Score many trajectories; ``tasks`` is aligned with ``trajectories``.

        Gold aliases are read once per distinct task object.
        """
        if len(trajectories) != len(tasks):
            raise ValueError(f"{len(trajectories)} trajectories but {len(tasks)} tasks")
        name, score = self.name, self._score
        golds_of: dict[int, list[str]] = {}
        results = []
        for trajectory, task in zip(trajectories, tasks, strict=True):
            golds = golds_of.get(id(task))
            if golds is None:
                golds = golds_of[id(task)] = gold_answers(task)
            answer = final_answer(trajectory)
            value = 0.0 if answer is None else score(answer, golds)
            results.append(RewardResult(value, details={name: value, "answer": answer}))
        return results


class ExactMatch(_AnswerReward):
    """Search-R1 exact match of the final answer against the gold aliases.

    Paper: Search-R1 (Jin et al., 2025); code-faithful normalization (:func:`normalize_answer`).
    Range {0, 1}; no answer scores 0. Details: ``em`` and the ``answer`` read.

    Examples:
        >>> from agentgym.trajectory import Trajectory
        >>> message = {"role": "assistant", "content": "<answer>the Eiffel tower.</answer>"}
        >>> t = Trajectory(env_id="x", task_id="q", messages=[message])
        >>> ExactMatch()(t, Task(id="q", prompt="?", gold={"answer": "Eiffel Tower"})).value
        1.0
    """

    name = "em"

    def _score(self, answer: str | None, golds: list[str]) -> float:
        return exact_match(answer, golds)


class SubExactMatch(_AnswerReward):
    """Search-R1 sub-EM: some normalized gold alias appears inside the normalized final answer.

    Paper: Search-R1 (Jin et al., 2025); code-faithful except that an empty normalized gold never
    matches. Range {0, 1}; no answer scores 0.

    Examples:
        >>> from agentgym.trajectory import Trajectory
        >>> message = {"role": "assistant", "content": "<answer>It is Paris.</answer>"}
        >>> t = Trajectory(env_id="x", task_id="q", messages=[message])
        >>> SubExactMatch()(t, Task(id="q", prompt="?", gold={"answer": "Paris"})).value
        1.0
    """

    name = "sub_em"

    def _score(self, answer: str | None, golds: list[str]) -> float:
        return sub_exact_match(answer, golds)


class F1(_AnswerReward):
    """Token F1 of the final answer against the best gold alias (SQuAD-style F1).

    Normalization as Search-R1's (:func:`normalize_answer`).

    Range [0, 1]; no answer scores 0.

    Examples:
        >>> from agentgym.trajectory import Trajectory
        >>> message = {"role": "assistant", "content": "<answer>Paris France</answer>"}
        >>> t = Trajectory(env_id="x", task_id="q", messages=[message])
        >>> F1()(t, Task(id="q", prompt="?", gold={"answer": "Paris"})).value
        0.6666666666666666
    """

    name = "f1"

    def _score(self, answer: str | None, golds: list[str]) -> float:
        return f1_score(answer, golds)


class NumericMatch(_AnswerReward):
    """The final answer's number matches a gold number within tolerance (:func:`numeric_match`).

    Not from a paper: the usual numeric grader, with explicit ``rel_tol``/``abs_tol``. Range
    {0, 1}; no answer, or an answer without a number, scores 0.

    Args:
        rel_tol: Relative tolerance.
        abs_tol: Absolute tolerance.

    Examples:
        >>> from agentgym.trajectory import Trajectory
        >>> message = {"role": "assistant", "content": "<answer>about 67.4 million</answer>"}
        >>> t = Trajectory(env_id="x", task_id="q", messages=[message])
        >>> task = Task(id="q", prompt="?", gold={"answer": "67,750,000"})
        >>> NumericMatch(rel_tol=0.01)(t, task).value
        1.0
    """

    name = "numeric"

    def __init__(self, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> None:
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol

    def _score(self, answer: str | None, golds: list[str]) -> float:
        return numeric_match(answer, golds, rel_tol=self.rel_tol, abs_tol=self.abs_tol)


def _response_text(trajectory: Trajectory, wrap_observations: bool) -> str:
    """The assistant side of the conversation, as Search-R1's rollout string would hold it."""
    messages = trajectory.messages
    start = next((i for i, m in enumerate(messages) if m.get("role") == "assistant"), len(messages))
    parts = []
    for message in messages[start:]:
        content = content_text(message.get("content"))
        if (
            message.get("role") != "assistant"
            and wrap_observations
            and "<information>" not in content
        ):
            content = f"\n\n<information>{content.strip()}</information>\n\n"
        parts.append(content)
    return "".join(parts)


class AnswerFormat:
    """Format reward: 1.0 when the agent gave a final answer and every action was well-formed, else 0.0.

    The answer is a final tool call or ``<answer>...</answer>`` text
    (:func:`~agentgym.rewards.base.final_answer`); an action is ill-formed when the env marked it
    ``invalid_action``. Range {0, 1}.

    Examples:
        >>> from agentgym.trajectory import Step
        >>> said = [{"role": "assistant", "content": "<answer>Lima</answer>"}]
        >>> AnswerFormat()(Trajectory("x", "t", messages=said, steps=[Step("...")]), Task("t", "?")).value
        1.0
        >>> AnswerFormat()(Trajectory("x", "t", steps=[Step("...", invalid_action=True)]), Task("t", "?")).details
        {'answered': False, 'invalid_steps': 1}
    """

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        answered = final_answer(trajectory) is not None
        invalid = sum(step.invalid_action for step in trajectory.steps)
        return RewardResult(
            1.0 if answered and not invalid else 0.0, details={"answered": answered, "invalid_steps": invalid}
        )


class SearchR1Format:
    r"""Search-R1's format-aware EM reward on a whole trajectory (:func:`search_r1_format_score`).

    Paper: Search-R1 (Jin et al., 2025), v0.3 ``qa_em_format``; code-faithful table, defaults
    ``structure_format_score=0.2``, ``final_format_score=0.1``, ``retrieval_score=0`` (the shipped
    values). Range [0, ``score``].

    The response string is rebuilt from ``trajectory.messages``: every message from the first
    assistant turn on, concatenated. Observation messages (``tool``/``user``) that do not already
    carry ``<information>`` tags are wrapped as Search-R1's rollout loop wraps search results,
    ``"\n\n<information>…</information>\n\n"`` (``wrap_observations=False`` keeps them raw).
    The answer is the last ``<answer>`` block of that response.

    Args:
        structure_format_score: See :func:`search_r1_format_score`.
        final_format_score: See :func:`search_r1_format_score`.
        retrieval_score: See :func:`search_r1_format_score`.
        score: See :func:`search_r1_format_score`.
        wrap_observations: Wrap untagged observations in ``<information>`` tags.

    Examples:
        >>> from agentgym.trajectory import Trajectory
        >>> t = Trajectory(env_id="x", task_id="q", messages=[
        ...     {"role": "user", "content": "Where?"},
        ...     {"role": "assistant", "content": "<think>search</think><search>tower</search>"},
        ...     {"role": "tool", "content": "Doc 1(Title: Paris) The Eiffel Tower is in Paris."},
        ...     {"role": "assistant", "content": "<think>found</think><answer>Louvre</answer>"}])
        >>> task = Task(id="q", prompt="Where?", gold={"answer": "Eiffel Tower"})
        >>> SearchR1Format()(t, task).value
        0.2
    """

    def __init__(
        self,
        *,
        structure_format_score: float = 0.2,
        final_format_score: float = 0.1,
        retrieval_score: float = 0.0,
        score: float = 1.0,
        wrap_observations: bool = True,
    ) -> None:
        self.structure_format_score = structure_format_score
        self.final_format_score = final_format_score
        self.retrieval_score = retrieval_score
        self.score = score
        self.wrap_observations = wrap_observations

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        response = _response_text(trajectory, self.wrap_observations)
        golds = gold_answers(task)
        value = search_r1_format_score(
            response,
            golds,
            structure_format_score=self.structure_format_score,
            final_format_score=self.final_format_score,
            retrieval_score=self.retrieval_score,
            score=self.score,
        )
        valid, reason = is_valid_sequence(response)
        answer = extract_answer(response)
        return RewardResult(
            value,
            details={
                "search_r1": value,
                "answer": answer,
                "em": exact_match(answer, golds),
                "valid_format": valid,
                "format_reason": reason,
            },
        )
