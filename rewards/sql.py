"""Reasoning-SQL's partial rewards for text-to-SQL: execution, syntax, schema, n-grams, format.

Paper: Pourreza et al., 2025, "Reasoning-SQL: Reinforcement Learning with SQL Tailored Partial
Rewards for Reasoning-Enhanced Text-to-SQL" (arXiv 2503.23157). No official release was found;
the formulas follow the authors' own early code ``MohammadrezaPourreza/RLForSQL``
(``grpo_training_llm_partial_reward.py``, ``utils/execution.py``,
``utils/database_manager.py::schema_linking_scorer``, ``utils/ngrams.py``; the repository's
Feb-Mar 2025 state, whose weights may differ from the paper's). TRL sums the reward functions with
weight 1 each, so the total is

``R = EX-or-LLM + Syntax + SchemaLinking + Format + NGram`` (max 3 + 1 + 1 + 0.5 + 1 = 6.5).

The paper's weights may differ and could not be pinned, so every weight is a parameter
(:class:`ReasoningSQLReward`'s ``weights``) and so is the execution score (``ex_score``: 3.0 in
the partial-reward script, 2.0 in the earlier ``grpo_training.py``).

This module never touches a database: the environment executes the queries and passes the
**result rows** in (or :class:`ReasoningSQLReward` calls an ``executor`` the env provides). The
code parses SQL with sqlglot; to stay dependency-free, :func:`schema_items` and
:func:`sql_tokens` are small tokenizers that agree with sqlglot on ordinary queries (see their
docstrings for what they approximate). Pass ``extractor=`` to plug sqlglot in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from agentgym.core import Task
from agentgym.messages import between
from agentgym.rewards.base import Judge, RewardResult, final_answer
from agentgym.trajectory import Trajectory

__all__ = [
    "DEFAULT_WEIGHTS",
    "SQL_JUDGE_TEMPLATE",
    "ReasoningSQLReward",
    "execution_match",
    "execution_reward",
    "extract_sql",
    "gold_orders",
    "ngram_jaccard",
    "parse_judge_score",
    "schema_items",
    "schema_linking_score",
    "sql_judge_score",
    "sql_tokens",
    "syntax_reward",
    "xml_count",
]

Row = Sequence[Any]

def extract_sql(text: str) -> str:
    r"""The last ```` ```sql ```` block of ``text``, stripped, or the whole text if there is none.

    Args:
        text: A completion.

    Returns:
        The SQL.

    Examples:
        >>> extract_sql("Try:\n```sql\nSELECT 1\n```\nbetter:\n```sql\nSELECT 2\n```")
        'SELECT 2'
        >>> extract_sql("SELECT name FROM singer")
        'SELECT name FROM singer'
    """
    # Not the regex ```sql\s*(.*?)\s*```: its adjacent \s* and .*? backtrack cubically (2.4 KB of
    # blank lines after ```sql took 10 s); between() finds the same blocks in linear time.
    blocks = between(text, "```sql", "```")
    return blocks[-1].strip() if blocks else text


# --- execution accuracy ----------------------------------------------------------------------


def _cell_key(cell: Any) -> tuple[int, Any]:
    """A sortable key: None < numbers < strings < bytes < anything else (by repr)."""
    if cell is None:
        return (0, 0)
    if isinstance(cell, (bool, int, float)):
        return (1, float(cell))
    if isinstance(cell, str):
        return (2, cell)
    if isinstance(cell, (bytes, bytearray)):
        return (3, bytes(cell))
    return (4, repr(cell))


def _rows_close(
    a: Sequence[tuple[int, Any]], b: Sequence[tuple[int, Any]], rel_tol: float, abs_tol: float
) -> bool:
    if len(a) != len(b):
        return False
    for (kind_a, value_a), (kind_b, value_b) in zip(a, b, strict=True):
        if kind_a != kind_b:
            return False
        if kind_a == 1:
            if not math.isclose(value_a, value_b, rel_tol=rel_tol, abs_tol=abs_tol):
                return False
        elif value_a != value_b:
            return False
    return True


def execution_match(
    pred_rows: Sequence[Row] | None,
    gold_rows: Sequence[Row] | None,
    *,
    ordered: bool = False,
    distinct: bool = False,
    allow_empty: bool = True,
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-9,
) -> bool:
    """Whether two query results are equal: the execution-accuracy test.

    Rows are compared as tuples (column order matters). By default the results are compared as
    **multisets** (duplicates count, order ignored); ``ordered=True`` compares row by row, which
    is right when the gold query has a top-level ``ORDER BY`` (:func:`gold_orders`).
    ``distinct=True`` compares sets. Numbers compare with ``math.isclose`` (ints and floats alike);
    ``None``, strings and bytes compare exactly.

    The RLForSQL code (``_compare_sqls_outcomes``) is ``distinct=True, allow_empty=False,
    rel_tol=0, abs_tol=0``: ``set(pred) == set(gold)``, and 0 when either result is empty.

    Args:
        pred_rows: The predicted query's rows; ``None`` if it failed to execute.
        gold_rows: The gold query's rows.
        ordered: Compare in order.
        distinct: Compare sets of rows.
        allow_empty: Whether two empty results match.
        rel_tol: Relative tolerance for numbers.
        abs_tol: Absolute tolerance for numbers.

    Returns:
        Whether the results match.

    Examples:
        >>> execution_match([(1, "a"), (2, "b")], [(2, "b"), (1, "a")])
        True
        >>> execution_match([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], ordered=True)
        False
        >>> execution_match([(0.1 + 0.2,)], [(0.3,)]), execution_match([(1,), (1,)], [(1,)])
        (True, False)
        >>> execution_match([(1,), (1,)], [(1,)], distinct=True)
        True
    """
    if pred_rows is None or gold_rows is None:
        return False
    pred = [tuple(_cell_key(cell) for cell in row) for row in pred_rows]
    gold = [tuple(_cell_key(cell) for cell in row) for row in gold_rows]
    if distinct:
        pred, gold = list(dict.fromkeys(pred)), list(dict.fromkeys(gold))
    if not pred or not gold:
        return allow_empty and not pred and not gold
    if len(pred) != len(gold):
        return False
    if not ordered:
        pred, gold = sorted(pred), sorted(gold)
    if all(_rows_close(p, g, rel_tol, abs_tol) for p, g in zip(pred, gold, strict=True)):
        return True
    if ordered or len(gold) > 2000 or not any(kind == 1 for row in gold for kind, _ in row):
        return False
    # Near-equal floats can sort differently on the two sides: pair rows greedily instead.
    unused = list(range(len(gold)))
    for p in pred:
        match = next((j for j in unused if _rows_close(p, gold[j], rel_tol, abs_tol)), None)
        if match is None:
            return False
        unused.remove(match)
    return True


# An unclosed string, quoted name or comment runs to the end of the text (\Z): without that, each
# of 50,000 "[" rescanned the rest of the text for its "]" (8.6 s).
_TOKEN = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*(?:'|\Z))
    |(?P<quoted>"(?:[^"]|"")*(?:"|\Z)|`[^`]*(?:`|\Z)|\[[^\]]*(?:\]|\Z))
    |(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    |(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)
    |(?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    |(?P<punct>\S)
    """,
    re.VERBOSE | re.DOTALL,
)


_CLOSING_QUOTE = {'"': '"', "`": "`", "[": "]"}


def _tokens(sql: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens: numbers and comments dropped, quoted identifiers unquoted."""
    out = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind == "quoted":
            closed = len(text) > 1 and text[-1] == _CLOSING_QUOTE[text[0]]
            out.append(("ident", text[1:-1] if closed else text[1:]))
        elif kind == "word":
            out.append(("word", text))
        elif kind == "punct":
            out.append(("punct", text))
        elif kind == "string":
            out.append(("literal", text))
    return out


def gold_orders(sql: str) -> bool:
    """Whether a query has a top-level ``ORDER BY`` (outside parentheses), so row order matters.

    Args:
        sql: The gold query.

    Returns:
        Whether results should be compared in order.

    Examples:
        >>> gold_orders("SELECT name FROM singer ORDER BY age DESC LIMIT 3")
        True
        >>> gold_orders("SELECT * FROM (SELECT name FROM singer ORDER BY age) t")
        False
    """
    depth = 0
    tokens = _tokens(sql)
    for i, (kind, text) in enumerate(tokens):
        if kind == "punct":
            depth += {"(": 1, ")": -1}.get(text, 0)
        elif (
            kind == "word"
            and depth == 0
            and text.lower() == "order"
            and i + 1 < len(tokens)
            and tokens[i + 1][1].lower() == "by"
        ):
            return True
    return False


def parse_judge_score(reply: str | None, low: float = 0.0, high: float = 2.0) -> float | None:
    """The first number in a judge's reply, clipped to [``low``, ``high``]; ``None`` if none.

    Args:
        reply: The reply.
        low: Lowest score.
        high: Highest score.

    Returns:
        The score or ``None``.

    Examples:
        >>> parse_judge_score("1.5"), parse_judge_score("Score: 7"), parse_judge_score("n/a")
        (1.5, 2.0, None)
    """
    if not reply:
        return None
    match = re.search(r"-?\d+(?:\.\d+)?", reply)
    if match is None:
        return None
    return min(high, max(low, float(match.group())))


#: The LLM-feedback prompt (``{question}``, ``{hint}``, ``{gold_sql}``, ``{pred_sql}``): a short
#: paraphrase of RLForSQL's ``prompts/judge_prompt.txt``, whose 13 SQL-style rules are summarized.
SQL_JUDGE_TEMPLATE = """You are a database expert. Compare a predicted SQL query with the gold \
query for the question below and score the prediction from 0.0 (completely wrong) to 2.0 \
(equivalent to the gold).

Judge like a careful reviewer: select only the columns the question asks for; join before \
MAX()/MIN(); group before ordering for distinct values; handle NULLs; use only the tables needed; \
follow the hint; address every condition in the question; use DISTINCT when unique values are \
required; pick the right column among similar ones; no string concatenation in SELECT; prefer \
INNER JOIN to nested SELECTs; only SQLite functions; STRFTIME() for dates.

Question: {question}
Hint: {hint}
Gold query: {gold_sql}
Predicted query: {pred_sql}

Reply with the score only."""


def sql_judge_score(
    judge: Judge,
    question: str,
    gold_sql: str,
    pred_sql: str,
    *,
    hint: str = "",
    template: str = SQL_JUDGE_TEMPLATE,
) -> float:
    """Reasoning-SQL's LLM feedback: the judge's score in [0, 2] for a query that failed EX.

    The code calls ``float(reply)`` (0 on failure, no clipping); here the first number in the
    reply counts and is clipped to [0, 2], and an unreadable reply scores 0.

    Args:
        judge: Prompt -> reply text.
        question: The question.
        gold_sql: The gold query.
        pred_sql: The predicted query.
        hint: BIRD's evidence / hint.
        template: Prompt template.

    Returns:
        The score in [0, 2].

    Examples:
        >>> judge = lambda prompt: "1.25"  # deterministic stand-in judge
        >>> sql_judge_score(judge, "How many singers?", "SELECT count(*) FROM singer", "SELECT 1")
        1.25
    """
    reply = judge(
        template.format(question=question, hint=hint, gold_sql=gold_sql, pred_sql=pred_sql)
    )
    score = parse_judge_score(reply)
    return 0.0 if score is None else score


def execution_reward(
    pred_rows: Sequence[Row] | None,
    gold_rows: Sequence[Row] | None,
    *,
    ex_score: float = 3.0,
    fallback: Callable[[], float] | None = None,
    **match_kwargs: Any,
) -> float:
    """Reasoning-SQL's execution component: ``ex_score`` on a result match, else the LLM fallback.

    As in the code, the fallback (an LLM judge, [0, 2]) is consulted whenever the results do
    not match, including when the predicted query failed to run; without one the score is 0.

    Args:
        pred_rows: The predicted query's rows, ``None`` if it failed.
        gold_rows: The gold rows.
        ex_score: Reward for matching results (3.0; 2.0 in the earlier script).
        fallback: Called without arguments for the partial score when EX fails.
        **match_kwargs: Passed to :func:`execution_match` (``ordered``, ``distinct``, ...).

    Returns:
        ``ex_score``, the fallback's score, or 0.

    Examples:
        >>> execution_reward([("Ann",)], [("Ann",)])
        3.0
        >>> execution_reward([("Bob",)], [("Ann",)], fallback=lambda: 0.5)
        0.5
    """
    if execution_match(pred_rows, gold_rows, **match_kwargs):
        return ex_score
    return fallback() if fallback is not None else 0.0


def syntax_reward(error: str | BaseException | None) -> float:
    """1.0 if the predicted query executed without an error, else 0.0.

    Args:
        error: The execution error, ``None`` if it ran.

    Returns:
        1.0 or 0.0.

    Examples:
        >>> syntax_reward(None), syntax_reward("no such column: nme")
        (1.0, 0.0)
    """
    return 1.0 if error is None else 0.0


# --- schema linking and n-grams --------------------------------------------------------------

_KEYWORDS = frozenset(
    """
    select from where and or not in is null like glob between group by order having limit offset
    join inner left right full outer cross natural on using as distinct all union intersect except
    case when then else end asc desc exists with recursive values insert into update set delete
    create table view index drop alter true false cast collate escape nulls first last over
    partition window filter rows range current row unbounded preceding following if replace
    """.split()
)
_FROM_ENDERS = frozenset(
    """
    where group order having limit offset union intersect except on using window select values
    """.split()
)


def schema_items(sql: str) -> set[str]:
    """Column and table names a query mentions: the sets Reasoning-SQL's schema score compares.

    The code collects sqlglot's ``Column.alias_or_name`` (the column's name; ``T1.name`` gives
    ``name``) and ``Table.name`` over the parsed query. This tokenizer approximates that without
    sqlglot: tables are the identifiers after ``FROM``/``JOIN`` (and after commas in a ``FROM``
    list); an alias right after a table or after ``AS`` is skipped where it is defined, as are
    qualifiers before ``.``, function names before ``(``, CTE names and ``USING (...)`` lists;
    every other identifier that is not a keyword is a column. String and number literals are
    ignored, and names are lowercased (sqlglot keeps their case; SQLite compares them
    case-insensitively). It agrees with sqlglot on the usual Spider/BIRD query shapes (joins,
    subqueries, CTEs, aggregates, CASE, CAST, UNION); exotic syntax may differ.

    Args:
        sql: The query.

    Returns:
        The lowercased names.

    Examples:
        >>> sorted(schema_items("SELECT name FROM singer WHERE age > 30"))
        ['age', 'name', 'singer']
        >>> sql = "SELECT T1.name, count(*) AS n FROM singer AS T1 JOIN concert c ON T1.id = c.sid"
        >>> sorted(schema_items(sql + " GROUP BY T1.name"))
        ['concert', 'id', 'name', 'sid', 'singer']
    """
    tokens = _tokens(sql)
    items: set[str] = set()
    expect_table = in_from = False
    i, n = 0, len(tokens)
    while i < n:
        kind, text = tokens[i]
        low = text.lower()
        following = tokens[i + 1][1] if i + 1 < n else ""
        if kind == "literal":
            i += 1
            continue
        if kind == "punct":
            if text == "," and in_from:
                expect_table = True
            elif text in "()":
                expect_table = False
                in_from = in_from and text == "("
            i += 1
            continue
        if kind == "word" and low in _KEYWORDS:
            if low in ("from", "join"):
                expect_table = in_from = True
            elif low in _FROM_ENDERS:
                expect_table = in_from = False
            if low == "as" and i + 1 < n and tokens[i + 1][0] in ("word", "ident"):
                i += 2  # the alias (or CAST type) being defined
                continue
            if low == "using" and following == "(":  # JOIN ... USING (id): not columns for sqlglot
                while i < n and tokens[i][1] != ")":
                    i += 1
                continue
            i += 1
            continue
        if expect_table:
            if following == ".":  # schema-qualified table: the name comes after the dot
                i += 2
                continue
            items.add(low)
            expect_table = False
            after = tokens[i + 1] if i + 1 < n else None
            if (
                after is not None
                and after[0] in ("word", "ident")
                and after[1].lower() not in _KEYWORDS
            ):
                i += 2  # implicit table alias
                continue
            i += 1
            continue
        cte = following.lower() == "as" and i + 2 < n and tokens[i + 2][1] == "("
        if following not in (".", "(") and not cte:
            items.add(low)
        i += 1
    return items


def schema_linking_score(
    pred_sql: str,
    gold_sql: str,
    *,
    mode: Literal["recall", "jaccard"] = "recall",
    extractor: Callable[[str], set[str]] = schema_items,
) -> float:
    """Reasoning-SQL's schema-linking reward: overlap of the schema items two queries use.

    ``mode="recall"`` is the code (``schema_linking_scorer``): ``|G ∩ P| / |G|`` over the gold
    items G. ``mode="jaccard"`` is the paper's description: ``|G ∩ P| / |G ∪ P|``. Empty gold
    items, or an extractor error, score 0 (the code's ``ZeroDivisionError`` is caught as 0).

    Args:
        pred_sql: The predicted query.
        gold_sql: The gold query.
        mode: ``"recall"`` (code-faithful) or ``"jaccard"`` (paper).
        extractor: SQL -> set of names (:func:`schema_items`; plug in sqlglot here).

    Returns:
        The score in [0, 1].

    Examples:
        >>> gold = "SELECT name FROM singer WHERE age > 30"
        >>> pred = "SELECT name, country FROM singer"
        >>> schema_linking_score(pred, gold), schema_linking_score(pred, gold, mode="jaccard")
        (0.6666666666666666, 0.5)
    """
    try:
        gold, pred = extractor(gold_sql), extractor(pred_sql)
    except Exception:  # noqa: BLE001 - the code scores any parse failure 0
        return 0.0
    if not gold:
        return 0.0
    common = len(gold & pred)
    return common / len(gold) if mode == "recall" else common / len(gold | pred)


_EXPLICIT_ALIAS = re.compile(r"\bas\s+(\w+)")
_IMPLICIT_TABLE_ALIAS = re.compile(
    r"\b(?:from|join)\s+[\w.]+\s+(?!(?:" + "|".join(sorted(_KEYWORDS)) + r")\b)(\w+)"
)
_WORDS = re.compile(r"\w+")


def sql_tokens(sql: str) -> list[str]:
    r"""Tokens for Reasoning-SQL's n-gram reward: lowercase ``\w+`` words minus aliases and ``as``.

    The code first normalizes the query with sqlglot (SQLite dialect); this skips that step,
    which only matters for queries sqlglot would rewrite (quoting, keyword spelling). Table
    aliases (``FROM singer T1``, ``FROM singer AS T1``) and column aliases (``AS n``) are dropped
    everywhere they appear, with the word ``as``.

    Args:
        sql: The query.

    Returns:
        The tokens, in order.

    Examples:
        >>> sql_tokens("SELECT T1.name AS n FROM singer AS T1")
        ['select', 'name', 'from', 'singer']
    """
    lowered = sql.lower()
    aliases = set(_EXPLICIT_ALIAS.findall(lowered)) | set(_IMPLICIT_TABLE_ALIAS.findall(lowered))
    aliases.add("as")
    return [token for token in _WORDS.findall(lowered) if token not in aliases]


def ngram_jaccard(pred_sql: str, gold_sql: str, n: int = 2) -> float:
    """Jaccard similarity of the n-gram *sets* of two queries' :func:`sql_tokens` (code: n = 2).

    Args:
        pred_sql: The predicted query.
        gold_sql: The gold query.
        n: The n-gram length.

    Returns:
        ``|A ∩ B| / |A ∪ B|``, 0 when both are empty.

    Examples:
        >>> gold = "SELECT name FROM singer WHERE age > 30"
        >>> ngram_jaccard("SELECT name, country FROM singer", gold)
        0.25
    """

    def grams(sql: str) -> set[tuple[str, ...]]:
        tokens = sql_tokens(sql)
        return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}

    first, second = grams(pred_sql), grams(gold_sql)
    union = first | second
    return len(first & second) / len(union) if union else 0.0


def xml_count(text: str) -> float:
    r"""The ``xmlcount`` format reward, code-faithful (at most 0.5; it can go below 0).

    +0.125 for each of ``"<reasoning>\n"``, ``"\n</reasoning>\n"``, ``"\n<answer>\n"`` and
    ``"\n</answer>"`` present exactly once, minus 0.001 per character after the answer: with
    ``"\n<answer>\n"``, ``0.001 * len(text.split("\n</answer>\n")[-1])`` (the whole text when
    that separator is missing: a quirk of the code), and with ``"\n</answer>"``,
    ``0.001 * (len(text.split("\n</answer>")[-1]) - 1)``.

    Args:
        text: The completion.

    Returns:
        The score.

    Examples:
        >>> xml_count("<reasoning>\nr\n</reasoning>\n<answer>\nSELECT 1\n</answer>\n")
        0.5
        >>> round(xml_count("<reasoning>\nr\n</reasoning>\n<answer>\nSELECT 1\n</answer>"), 3)
        0.447
    """
    count = 0.0
    if text.count("<reasoning>\n") == 1:
        count += 0.125
    if text.count("\n</reasoning>\n") == 1:
        count += 0.125
    if text.count("\n<answer>\n") == 1:
        count += 0.125
        count -= len(text.split("\n</answer>\n")[-1]) * 0.001
    if text.count("\n</answer>") == 1:
        count += 0.125
        count -= (len(text.split("\n</answer>")[-1]) - 1) * 0.001
    return count


# --- trajectory-level reward -----------------------------------------------------------------

#: TRL's weights in the authors' script: every component counts once.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "execution": 1.0,
    "syntax": 1.0,
    "schema": 1.0,
    "ngram": 1.0,
    "format": 1.0,
}

Executor = Callable[[str], Sequence[Row]]


def _last_completion(trajectory: Trajectory) -> str:
    for message in reversed(trajectory.messages):
        if message.get("role") == "assistant" and isinstance(message.get("content"), str):
            return message["content"]
    for step in reversed(trajectory.steps):
        if isinstance(step.action, str):
            return step.action
        content = step.action.get("content")
        if isinstance(content, str):
            return content
    return ""


class ReasoningSQLReward:
    r"""Reasoning-SQL's partial rewards on a text-to-SQL trajectory, summed with weights.

    Paper: Reasoning-SQL (Pourreza et al., 2025); formulas from the authors' RLForSQL code
    (``MohammadrezaPourreza/RLForSQL``, ``grpo_training_llm_partial_reward.py``). Components (details hold
    each one):

    * ``execution``: ``ex_score`` (3.0) when the results match (:func:`execution_match`), else
      the LLM judge's [0, 2] score (:func:`sql_judge_score`) when a judge is given, else 0;
    * ``syntax``: 1 if the predicted query ran;
    * ``schema``: :func:`schema_linking_score`, recall (code) or Jaccard (paper, ``schema_mode``);
    * ``ngram``: bigram Jaccard (:func:`ngram_jaccard`);
    * ``format``: :func:`xml_count` on the last completion.

    The total is ``sum(weights[k] * component[k])``: [0, 6.5] with the default weights (the
    format term can dip slightly below 0). The paper's own weights are not pinned; set them.

    Inputs. The predicted SQL is :func:`extract_sql` of the final answer
    (:func:`~agentgym.rewards.base.final_answer`) or, without one, of the last completion. Its
    rows come from ``executor(sql)`` (an exception is an execution error) or, without an
    executor, from the last step's ``info["rows"]`` / ``info["error"]`` as the env recorded them.
    The gold is ``task.gold["sql"]``, its rows ``task.gold["rows"]`` (else ``executor`` on the
    gold SQL), and row order counts when ``task.gold["ordered"]`` says so (else when the gold
    has a top-level ``ORDER BY``). The question is ``task.prompt``, the hint
    ``task.metadata["evidence"]``.

    Code-faithful choices: the ``"SELECT" in sql`` check (case-sensitive, ``select_check="code"``)
    gates execution and schema scores to 0; ``code_ex=True`` compares sets and scores empty
    results 0, as ``_compare_sqls_outcomes`` does (default: multisets, tolerance, order when the
    gold orders).

    Args:
        executor: Runs a query and returns its rows (the env's read-only connection).
        judge: LLM judge for the partial execution score; ``None`` disables it.
        weights: Per-component weights (missing keys weigh 1).
        ex_score: Execution score on a match.
        schema_mode: ``"recall"`` (code) or ``"jaccard"`` (paper).
        select_check: ``"code"`` (case-sensitive), ``"any_case"`` or ``"off"``.
        code_ex: Compare results as the RLForSQL code does.
        rel_tol: Relative tolerance for numbers in results.
        abs_tol: Absolute tolerance for numbers in results.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> sql = "```sql\nSELECT name FROM singer\n```"
        >>> completion = f"<reasoning>\nlist them\n</reasoning>\n<answer>\n{sql}\n</answer>\n"
        >>> t = Trajectory(env_id="x", task_id="s",
        ...                messages=[{"role": "assistant", "content": completion}],
        ...                steps=[Step(action=completion, info={"rows": [("Ann",), ("Bob",)]})])
        >>> gold = {"sql": "SELECT name FROM singer", "rows": [("Bob",), ("Ann",)]}
        >>> task = Task(id="s", prompt="Singer names?", gold=gold)
        >>> result = ReasoningSQLReward()(t, task)
        >>> result.value, result.details["execution"], result.details["format"]
        (6.5, 3.0, 0.5)
    """

    def __init__(
        self,
        *,
        executor: Executor | None = None,
        judge: Judge | None = None,
        weights: Mapping[str, float] | None = None,
        ex_score: float = 3.0,
        schema_mode: Literal["recall", "jaccard"] = "recall",
        select_check: Literal["code", "any_case", "off"] = "code",
        code_ex: bool = False,
        rel_tol: float = 1e-6,
        abs_tol: float = 1e-9,
    ) -> None:
        self.executor = executor
        self.judge = judge
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.ex_score = ex_score
        self.schema_mode = schema_mode
        self.select_check = select_check
        self.code_ex = code_ex
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol

    def _has_select(self, sql: str) -> bool:
        if self.select_check == "code":
            return "SELECT" in sql
        if self.select_check == "any_case":
            return "select" in sql.lower()
        return True

    def _run(self, sql: str) -> tuple[list[Row] | None, str | None]:
        assert self.executor is not None
        try:
            return list(self.executor(sql)), None
        except Exception as error:  # noqa: BLE001 - any failure is an execution error
            return None, f"{type(error).__name__}: {error}"

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        completion = _last_completion(trajectory)
        answer = final_answer(trajectory)
        pred_sql = extract_sql(answer if answer is not None else completion)
        gold_sql = str(task.gold.get("sql", ""))

        pred_rows: list[Row] | None
        error: str | None
        if self.executor is not None:
            pred_rows, error = self._run(pred_sql)
        else:
            info = trajectory.steps[-1].info if trajectory.steps else {}
            rows = info.get("rows")
            error = info.get("error")
            if rows is None and error is None:
                error = "no execution result recorded"
            pred_rows = None if error is not None else list(rows)
        gold_rows = task.gold.get("rows")
        if gold_rows is None and self.executor is not None and gold_sql:
            gold_rows, _ = self._run(gold_sql)
        ordered = bool(task.gold.get("ordered", gold_orders(gold_sql)))

        has_select = self._has_select(pred_sql)
        if self.code_ex:
            match_kwargs: dict[str, Any] = {
                "distinct": True,
                "allow_empty": False,
                "rel_tol": 0.0,
                "abs_tol": 0.0,
            }
        else:
            match_kwargs = {"ordered": ordered, "rel_tol": self.rel_tol, "abs_tol": self.abs_tol}
        fallback = None
        if self.judge is not None:
            judge, hint = self.judge, str(task.metadata.get("evidence", ""))

            def fallback() -> float:
                return sql_judge_score(judge, task.prompt, gold_sql, pred_sql, hint=hint)

        components = {
            "execution": execution_reward(
                pred_rows, gold_rows, ex_score=self.ex_score, fallback=fallback, **match_kwargs
            )
            if has_select
            else 0.0,
            "syntax": syntax_reward(error),
            "schema": schema_linking_score(pred_sql, gold_sql, mode=self.schema_mode)
            if has_select
            else 0.0,
            "ngram": ngram_jaccard(pred_sql, gold_sql),
            "format": xml_count(completion),
        }
        total = sum(self.weights.get(name, 1.0) * value for name, value in components.items())
        return RewardResult(total, details={**components, "sql": pred_sql, "error": error})
