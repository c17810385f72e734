"""LLM-judge outcome reward, hardened against content-free "master key" answers.

:class:`JudgeOutcome` asks an injectable judge (``Judge = Callable[[str], str]``: prompt in, reply
text out) whether the agent's final answer matches the gold answer, and parses the verdict
robustly (:func:`parse_verdict`). It is the outcome judge of CaRR/C-GRPO and of BrowseComp-style
graders (``R_out = 1`` iff the judge says the answer is correct; CaRR, arXiv 2601.06021, code
``THUDM/CaRR``, ``deepsearch_rm_with_rubrics/launch_server.py::get_outcome_reward``).

"One Token to Fool LLM-as-a-Judge" (Zhao et al., 2025, arXiv 2507.08794)
shows that generative judges often call *content-free* responses correct: a lone ``":"`` or
``"."``, or a reasoning opener such as ``"Thought process:"`` or ``"Solution"``, in several
languages. :func:`is_content_free` recognizes those (plus empty and punctuation-only answers),
and :class:`JudgeOutcome` scores them 0 **without calling the judge**. :data:`MASTER_KEYS` is
the standing test set: a judge that always replies "correct" must still give every key 0.

The paper's mitigation is retraining the judge (Master-RM); this module's guard is a rule
applied before the judge, so it holds whatever judge is plugged in.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agentgym.core import Task
from agentgym.rewards.base import Judge, RewardResult, final_answer
from agentgym.rewards.outcome import gold_answers
from agentgym.trajectory import Trajectory

__all__ = [
    "DEFAULT_TEMPLATE",
    "MASTER_KEYS",
    "REASONING_OPENERS",
    "JudgeOutcome",
    "build_judge_prompt",
    "is_content_free",
    "judge_answer",
    "parse_verdict",
]

#: The master keys of "One Token to Fool LLM-as-a-Judge" (arXiv 2507.08794; the suggested
#: 10-key test set). The first seven are confirmed in the retrieved texts; ``" "``, ``","`` and
#: ``"Respuesta"`` are from recollection of the paper's list.
MASTER_KEYS: tuple[str, ...] = (
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

#: Further content-free openers the guard also blocks (not from the paper's list): bare answer
#: labels and "let's think" openers, in a few languages.
REASONING_OPENERS: tuple[str, ...] = (
    "Answer",
    "Final answer",
    "The answer is",
    "Let's think step by step.",
    "Let me think step by step.",
    "Step 1",
    "Reasoning",
    "解答",
    "答案",
    "答",
    "回答",
    "解析",
    "Solución",
    "Réponse",
    "Lösung",
    "Antwort",
    "Ответ",
    "Решение",
)

_SPACES = re.compile(r"\s+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\uff1a": ":"})


def _key(text: str) -> str:
    """Casefold, unify apostrophes, trim end punctuation and whitespace, collapse spaces."""
    text = _SPACES.sub(" ", text.translate(_APOSTROPHES).casefold())
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or unicodedata.category(text[start])[0] == "P"):
        start += 1
    while end > start and (
        text[end - 1].isspace() or unicodedata.category(text[end - 1])[0] == "P"
    ):
        end -= 1
    return text[start:end]


_BLOCKED = frozenset(_key(text) for text in MASTER_KEYS + REASONING_OPENERS) - {""}


def is_content_free(answer: str | None, blocklist: Iterable[str] | None = None) -> bool:
    """Whether an answer carries no content a judge could fairly call correct.

    True for ``None``, an empty or whitespace-only answer, an answer made only of punctuation,
    symbols and separators (``":"``, ``"..."``, ``"—"``), and any blocklisted opener, compared
    case-insensitively with punctuation and whitespace trimmed at the ends (so ``"SOLUTION:"``
    and ``"thought process"`` are blocked). An opener followed by an actual answer is not.

    Args:
        answer: The agent's answer.
        blocklist: Phrases to block; defaults to :data:`MASTER_KEYS` + :data:`REASONING_OPENERS`.

    Returns:
        Whether the answer is content-free.

    Examples:
        >>> [is_content_free(key) for key in (":", "Thought process:", "かいせつ", "  ")]
        [True, True, True, True]
        >>> is_content_free("Solution: 42"), is_content_free("Paris")
        (False, False)
    """
    if answer is None:
        return True
    stripped = answer.strip()
    if not stripped:
        return True
    if all(ch.isspace() or unicodedata.category(ch)[0] in "PSZC" for ch in stripped):
        return True
    blocked = _BLOCKED if blocklist is None else frozenset(_key(text) for text in blocklist) - {""}
    return _key(stripped) in blocked


#: The default judge prompt: ``{question}``, ``{gold}`` and ``{response}`` are filled in with
#: ``str.format``.
DEFAULT_TEMPLATE = """You are grading a response to a question against the reference answer.

Question: {question}
Reference answer: {gold}
Response: {response}

The response is correct only if it states a final answer that means the same as the reference \
answer (other wording, aliases and extra explanation are fine). It is incorrect if it gives a \
different answer, several conflicting answers, or no answer at all, for example if it only \
restates the task or starts reasoning without concluding.

Reply with exactly one line: "verdict: correct" or "verdict: incorrect"."""


def build_judge_prompt(
    question: str, golds: str | Sequence[str], response: str, template: str = DEFAULT_TEMPLATE
) -> str:
    """Fill the judge template; several gold aliases are joined with ``" | "``.

    Args:
        question: The task's question.
        golds: The gold answer or its aliases.
        response: The agent's answer.
        template: A ``str.format`` template with ``{question}``, ``{gold}`` and ``{response}``.

    Returns:
        The prompt.

    Examples:
        >>> build_judge_prompt("2+2?", ["4", "four"], "4", template="{question}|{gold}|{response}")
        '2+2?|4 | four|4'
    """
    gold = golds if isinstance(golds, str) else " | ".join(golds)
    return template.format(question=question, gold=gold, response=response)


_POSITIVE = frozenset(
    {"correct", "yes", "true", "right", "pass", "passed", "accept", "accepted", "valid"}
)
_NEGATIVE = frozenset(
    {
        "incorrect",
        "no",
        "false",
        "wrong",
        "fail",
        "failed",
        "reject",
        "rejected",
        "invalid",
        "partially",
    }
)
_NEGATED = re.compile(r"\bnot\s+(?:correct|right|true|accurate|valid)\b|\bpartially\s+correct\b")
_KEYED = re.compile(
    r"\b(?:verdict|judgement|judgment|grade|correct|correctness|is_correct|result|decision|label)"
    r"\s*[:=]\s*(?:[*\"'`]+\s*)?([a-z]+)"  # not \s*[*"'`]*\s*: adjacent \s* runs backtrack quadratically
)
_WORD = re.compile(r"[a-z]+")
_JSON_KEYS = (
    "verdict",
    "judgement",
    "judgment",
    "grade",
    "correct",
    "is_correct",
    "result",
    "label",
    "score",
)


def _polarity(value: Any) -> bool | None:
    """Map a verdict value (bool, 0/1 number, word) to True/False, or None if it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value >= 0.5 if 0.0 <= value <= 1.0 else None
    if isinstance(value, str):
        word = _NEGATED.sub("incorrect", value.strip().lower())
        words = _WORD.findall(word)
        if words and words[0] in _POSITIVE:
            return True
        if words and words[0] in _NEGATIVE:
            return False
    return None


def parse_verdict(reply: str | None) -> bool | None:
    """Read a judge's reply as correct (True), incorrect (False) or unparseable (None).

    Tried in order:

    1. A JSON object in the reply with a ``verdict``/``judgement``/``correct``/``is_correct``/
       ``result``/``label``/``grade``/``score`` key whose value is a boolean, 0/1 (a number in
       [0, 1] counts as correct from 0.5) or a verdict word.
    2. The last ``key: value`` line such as ``verdict: incorrect`` or BrowseComp's
       ``correct: yes``.
    3. The reply's first word (``"Yes."``, ``"Incorrect - ..."``).
    4. The strong words ``correct`` vs ``incorrect``/``wrong`` anywhere, if only one side appears.

    ``"not correct"`` and ``"partially correct"`` read as incorrect. Anything else, including an
    empty reply or one with both verdicts, is None.

    Args:
        reply: The judge's reply text.

    Returns:
        True, False or None.

    Examples:
        >>> replies = ("verdict: correct", "CORRECT", "Incorrect.", '{"verdict": "incorrect"}')
        >>> [parse_verdict(reply) for reply in replies]
        [True, True, False, False]
        >>> parse_verdict("extracted_final_answer: Paris ... correct: yes"), parse_verdict("Yes")
        (True, True)
        >>> parse_verdict("The response is not correct."), parse_verdict("I cannot tell.")
        (False, None)
    """
    if not reply or not reply.strip():
        return None
    start, end = reply.find("{"), reply.rfind("}")
    if 0 <= start < end:
        try:
            data = json.loads(reply[start : end + 1])
        except ValueError:
            data = None
        if isinstance(data, dict):
            lowered = {str(k).lower(): v for k, v in data.items()}
            for key in _JSON_KEYS:
                if key in lowered:
                    verdict = _polarity(lowered[key])
                    if verdict is not None:
                        return verdict
    text = _NEGATED.sub("incorrect", reply.lower())
    keyed = _KEYED.findall(text)
    if keyed:
        verdict = _polarity(keyed[-1])
        if verdict is not None:
            return verdict
    words = _WORD.findall(text)
    if not words:
        return None
    first = _polarity(words[0])
    if first is not None:
        return first
    has_positive = "correct" in words
    has_negative = "incorrect" in words or "wrong" in words
    if has_positive != has_negative:
        return has_positive
    return None


def judge_answer(
    judge: Judge,
    question: str,
    golds: str | Sequence[str],
    answer: str | None,
    *,
    template: str = DEFAULT_TEMPLATE,
    guard: bool = True,
    blocklist: Iterable[str] | None = None,
) -> tuple[float, dict[str, Any]]:
    """Judge one answer: the string-level core of :class:`JudgeOutcome`.

    Args:
        judge: Prompt -> reply text.
        question: The question.
        golds: The gold answer or its aliases.
        answer: The agent's answer; ``None`` scores 0 without a judge call.
        template: The prompt template (:data:`DEFAULT_TEMPLATE`).
        guard: Score content-free answers (:func:`is_content_free`) 0 without a judge call.
        blocklist: Phrases the guard blocks; defaults to the master keys and openers.

    Returns:
        ``(value, details)``: value 1.0 or 0.0; details hold ``verdict`` (True/False/None) and,
        as they apply, ``reply``, ``skipped`` (why the judge was not called) or ``parse_error``.

    Examples:
        >>> always_correct = lambda prompt: "verdict: correct"  # deterministic stand-in judge
        >>> judge_answer(always_correct, "Capital of France?", "Paris", "Paris")[0]
        1.0
        >>> judge_answer(always_correct, "Capital of France?", "Paris", "Thought process:")
        (0.0, {'verdict': None, 'skipped': 'content-free answer'})
    """
    if answer is None:
        return 0.0, {"verdict": None, "skipped": "no answer"}
    if guard and is_content_free(answer, blocklist):
        return 0.0, {"verdict": None, "skipped": "content-free answer"}
    reply = judge(build_judge_prompt(question, golds, answer, template))
    verdict = parse_verdict(reply)
    details: dict[str, Any] = {"verdict": verdict, "reply": reply}
    if verdict is None:
        details["parse_error"] = "could not read a verdict from the judge's reply"
    return (1.0 if verdict else 0.0), details


class JudgeOutcome:
    """LLM-judge outcome reward: 1 if the judge says the final answer matches the gold, else 0.

    Paper: the binary outcome judge of CaRR/C-GRPO (arXiv 2601.06021, BrowseComp-style
    "correct: yes"), hardened per "One Token to Fool LLM-as-a-Judge" (arXiv 2507.08794). The prompt is this
    module's :data:`DEFAULT_TEMPLATE`, not the papers' (theirs were not retrievable verbatim);
    pass ``template=`` to use another. Range {0, 1}.

    Scores 0 without calling the judge when the agent never answered or (``guard=True``) the
    answer is content-free; an unparseable reply scores 0 with ``details["parse_error"]``. The
    question is ``task.prompt``; the gold aliases come from
    :func:`~agentgym.rewards.outcome.gold_answers`.
    Deterministic for a deterministic judge. ``batch`` calls the judge from ``max_workers``
    threads (the judge must then be thread-safe); results keep their order.

    Args:
        judge: Prompt -> reply text.
        template: The prompt template.
        guard: Enable the content-free guard.
        blocklist: Phrases the guard blocks (default: :data:`MASTER_KEYS` and
            :data:`REASONING_OPENERS`).
        max_workers: Threads ``batch`` uses for judge calls.

    Examples:
        >>> from agentgym.trajectory import Trajectory
        >>> def judge(prompt):  # deterministic stand-in: correct iff the response line says Paris
        ...     return "verdict: correct" if "Response: Paris" in prompt else "verdict: incorrect"
        >>> task = Task(id="q", prompt="Capital of France?", gold={"answer": "Paris"})
        >>> def answer(text):
        ...     message = {"role": "assistant", "content": f"<answer>{text}</answer>"}
        ...     return Trajectory(env_id="x", task_id="q", messages=[message])
        >>> reward = JudgeOutcome(judge)
        >>> reward(answer("Paris"), task).value, reward(answer("Lyon"), task).value
        (1.0, 0.0)
    """

    def __init__(
        self,
        judge: Judge,
        *,
        template: str = DEFAULT_TEMPLATE,
        guard: bool = True,
        blocklist: Iterable[str] | None = None,
        max_workers: int = 1,
    ) -> None:
        self.judge = judge
        self.template = template
        self.guard = guard
        self.blocklist = None if blocklist is None else tuple(blocklist)
        self.max_workers = max_workers

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        answer = final_answer(trajectory)
        value, details = judge_answer(
            self.judge,
            task.prompt,
            gold_answers(task),
            answer,
            template=self.template,
            guard=self.guard,
            blocklist=self.blocklist,
        )
        return RewardResult(value, details={"judge": value, "answer": answer, **details})

    def batch(
        self, trajectories: Sequence[Trajectory], tasks: Sequence[Task]
    ) -> list[RewardResult]:
        """Score many trajectories, with up to ``max_workers`` judge calls in flight."""
        if len(trajectories) != len(tasks):
            raise ValueError(f"{len(trajectories)} trajectories but {len(tasks)} tasks")
        if self.max_workers <= 1:
            return [self(t, task) for t, task in zip(trajectories, tasks, strict=True)]
        with ThreadPoolExecutor(self.max_workers) as pool:
            return list(pool.map(self, trajectories, tasks))
