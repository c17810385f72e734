"""The TextToSQL reward: Reasoning-SQL's partial rewards on the submitted query, plus a process reward.

It reads the trajectory alone (the env records each query and the submission's rows in
``step.info``), so ``agentgym score`` rescores saved TextToSQL episodes exactly as they were rewarded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from agentgym.core import Task
from agentgym.envs.text2sql.sandbox import plain_value
from agentgym.rewards.base import RewardResult, final_answer
from agentgym.rewards.sql import (
    execution_match,
    extract_sql,
    gold_orders,
    ngram_jaccard,
    schema_items,
    schema_linking_score,
    syntax_reward,
)
from agentgym.trajectory import Trajectory

__all__ = ["DEFAULT_WEIGHTS", "TextToSQLReward"]


#: Reasoning-SQL's component weights in the authors' code: each reward function counts once with
#: its own maximum (execution 3.0, syntax 1, schema 1, n-gram 1, format 0.5). Normalised by their
#: sum, a perfect submission scores exactly what that code gives it relative to its 6.5 maximum.
DEFAULT_WEIGHTS: Mapping[str, float] = {"execution": 3.0, "syntax": 1.0, "schema": 1.0, "ngram": 1.0, "format": 0.5}


class TextToSQLReward:
    """Reasoning-SQL's partial rewards on the submitted query, plus a process reward for queries that run.

    On the last step, each raw score in [0, 1] times its weight (``weights`` normalised to sum 1,
    default :data:`DEFAULT_WEIGHTS`: 3 : 1 : 1 : 1 : 0.5, the authors' code):

    * ``execution``: 1 if the submitted query's rows equal the gold rows as multisets (in order
      only when ``gold["ordered"]``; numbers within ``rel_tol``/``abs_tol``), else 0
      (:func:`~agentgym.rewards.sql.execution_match`). A result cut at the sandbox's row cap never
      matches.
    * ``syntax``: 1 if the submitted query ran (:func:`~agentgym.rewards.sql.syntax_reward`).
    * ``schema``: overlap of the tables and columns it names with the gold query's
      (:func:`~agentgym.rewards.sql.schema_linking_score`; recall, as the authors' code, or
      ``schema_mode="jaccard"``, as the paper; ``details`` holds both).
    * ``ngram``: bigram Jaccard with the gold query (:func:`~agentgym.rewards.sql.ngram_jaccard`).
    * ``format``: Reasoning-SQL's format term checks the ``<reasoning>/<answer>`` layout of a single
      completion; in a tool-using episode it is the share of turns whose completion made a
      well-formed tool call.

    With no submission (truncated) all five are 0. On every step, ``process`` =
    ``process_reward`` for each distinct query that ``execute`` ran without error, until the
    episode has earned ``process_cap``. The return lies in ``[0, 1 + process_cap]``; a perfect
    submission's last-step outcome is 1.0.

    Everything is read from the trajectory: the env records each ``execute`` in
    ``step.info["queries"]`` (``{"sql", "ok"}``) and the submission in the last step's ``info``
    (``sql``, ``rows``, ``error``, ``truncated``), so offline scores equal the recorded rewards.

    Args:
        weights: Relative weights of the five final components (missing keys keep their default).
        process_reward: Reward per distinct query that runs.
        process_cap: Most process reward one episode earns.
        schema_mode: ``"recall"`` or ``"jaccard"``.
        rel_tol: Relative tolerance for numbers in results.
        abs_tol: Absolute tolerance for numbers in results.

    Examples:
        >>> from agentgym.trajectory import Step
        >>> task = Task("t", "How many artists?", gold={"sql": "SELECT count(*) FROM Artist", "rows": [[275]]})
        >>> submit = {"name": "submit", "arguments": {"sql": "select COUNT(*) from artist"}}
        >>> step = Step("...", tool_calls=[submit], info={"final": submit, "rows": [[275]], "error": None})
        >>> result = TextToSQLReward()(Trajectory("e", "t", steps=[step], terminated=True), task)
        >>> result.details["raw"]["execution"], round(result.value, 4)
        (1.0, 1.0)
    """

    #: What each component measures (see :data:`agentgym.rewards.registry.KINDS`): the four scores of
    #: the submitted query are outcome rewards.
    kinds = {
        "execution": "outcome",
        "syntax": "outcome",
        "schema": "outcome",
        "ngram": "outcome",
        "format": "format",
        "process": "process",
    }

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        process_reward: float = 0.02,
        process_cap: float = 0.1,
        schema_mode: Literal["recall", "jaccard"] = "recall",
        rel_tol: float = 1e-6,
        abs_tol: float = 1e-9,
    ):
        merged = {**DEFAULT_WEIGHTS, **(weights or {})}
        unknown = set(merged) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown reward components {sorted(unknown)}; choose among {list(DEFAULT_WEIGHTS)}")
        total = sum(merged.values())
        if total <= 0 or min(merged.values()) < 0:
            raise ValueError("weights must be non-negative with a positive sum")
        if schema_mode not in ("recall", "jaccard"):
            raise ValueError(f"schema_mode must be 'recall' or 'jaccard', got {schema_mode!r}")
        self.weights = {name: value / total for name, value in merged.items()}
        self.process_reward = process_reward
        self.process_cap = process_cap
        self.schema_mode = schema_mode
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one episode: ``value`` is the return, ``details["steps"]`` the components per step."""
        seen: set[str] = set()
        earned = 0.0
        steps = []
        for step in trajectory.steps:
            process = 0.0
            for query in step.info.get("queries", ()):
                sql = " ".join(str(query.get("sql", "")).split())
                if query.get("ok") and sql not in seen and earned < self.process_cap:
                    seen.add(sql)
                    gain = min(self.process_reward, self.process_cap - earned)
                    earned += gain
                    process += gain
            steps.append({"process": process})
        details: dict[str, Any] = {}
        if steps and (trajectory.terminated or trajectory.truncated):
            steps[-1].update(self._final_components(trajectory, task, details))
        per_step = [float(sum(components.values())) for components in steps]
        details["steps"] = steps
        return RewardResult(float(sum(per_step)), per_step, details)

    def _final_components(self, trajectory: Trajectory, task: Task, details: dict[str, Any]) -> dict[str, float]:
        info = trajectory.steps[-1].info
        answer = final_answer(trajectory) if trajectory.terminated else None
        raw = dict.fromkeys(DEFAULT_WEIGHTS, 0.0)
        if answer is not None:
            pred_sql = extract_sql(answer).strip()
            gold_sql = str(task.gold.get("sql", ""))
            error = info.get("error") if "rows" in info or "error" in info else "no execution result recorded"
            pred_rows = None if error is not None or info.get("truncated") else info.get("rows")
            gold_rows = task.gold.get("rows")
            if gold_rows is not None:
                gold_rows = [[plain_value(cell) for cell in row] for row in gold_rows]
            ordered = bool(task.gold.get("ordered", gold_orders(gold_sql)))
            match = execution_match(pred_rows, gold_rows, ordered=ordered, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
            raw["execution"] = 1.0 if match else 0.0
            raw["syntax"] = syntax_reward(error)
            items = {sql: schema_items(sql) for sql in (pred_sql, gold_sql)}  # tokenized once, scored twice
            recall, jaccard = (
                schema_linking_score(pred_sql, gold_sql, mode=mode, extractor=items.__getitem__)
                for mode in ("recall", "jaccard")
            )
            raw["schema"] = recall if self.schema_mode == "recall" else jaccard
            raw["ngram"] = ngram_jaccard(pred_sql, gold_sql)
            raw["format"] = sum(bool(step.tool_calls) for step in trajectory.steps) / len(trajectory.steps)
            details.update(
                sql=pred_sql,
                error=error,
                ordered=ordered,
                schema_recall=recall,
                schema_jaccard=jaccard,
            )
        details["raw"] = raw
        return {name: self.weights[name] * value for name, value in raw.items()}
