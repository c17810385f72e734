"""What one SQL query may build: static size and growth bounds read from DuckDB's parse tree.

DuckDB builds some values in one call that neither its time limit (an interrupt is only seen between
operators) nor its memory limit (string vectors are not counted) can stop:
``SELECT length(repeat('x', 2000000000))`` ran 18 s and took 4 GB under a 2 s, 256 MB limit, and
eight CTE levels of ``s||s||...||s`` ran 14 s and took 4.9 GB. The sandbox
(:class:`~agentgym.envs.text2sql.sandbox.ReadOnlyDatabase`) therefore asks :func:`check` before it
runs a query whose text could build such a value (:func:`worth_checking`): the sizes given to
value-building functions must be small constants (:data:`MAX_BUILT_SIZE`), and no value may grow more
than :data:`MAX_GROWTH` times through concatenations, ``replace()``, ``repeat()``, aggregates and list
lambdas that feed each other across nested calls, subqueries, CTE levels and recursion
(:class:`_GrowthBound`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_BUILT_SIZE", "MAX_GROWTH", "ValueTooBig", "check", "worth_checking"]


class ValueTooBig(Exception):
    """The query could build a value too big for the sandbox; the message is written for the agent."""


#: Largest size (characters, list entries) a query may ask a value-building function for.
MAX_BUILT_SIZE = 10_000

#: Scalar functions whose arguments (0-based positions) set the size of the value they build; ``None``:
#: every argument (``range(start, stop, step)``). The table functions of the same names stream rows
#: and stay interruptible, so they are allowed.
_SIZED_FUNCTIONS: dict[str, tuple[int, ...] | None] = {
    "repeat": (1,),
    "lpad": (1,),
    "rpad": (1,),
    "list_resize": (1,),
    "array_resize": (1,),
    "range": None,
    "generate_series": None,
}

#: Most a query may multiply the length of one value by, across nested calls, CTE levels and recursion
#: (a base column's value, or 100 characters of a literal, is 1): ``s || s`` doubles, ``replace(s, 'a',
#: 'aaaa')`` quadruples, ``string_agg`` counts as 3,400.
MAX_GROWTH = 10_000

#: Functions whose first argument is a format string that may hold a field width.
_FORMAT_FUNCTIONS = ("printf", "format")

#: The names the text of a query must hold for :meth:`ReadOnlyDatabase._refuse_huge_values` to look closer.
_BUILDER_NAMES = (*_SIZED_FUNCTIONS, *_FORMAT_FUNCTIONS)

#: Five digits in a row in a ``printf`` or ``format`` string: maybe a field width of 10,000 or more.
_WIDE_FIELD = re.compile(r"[0-9]{5}")


def worth_checking(lowered: str) -> bool:
    """Whether a query's lowercased text could build a huge value, so its tree is worth reading.

    A function's name is in the text whenever it is called, and ``||`` alone in one query level only
    adds up lengths the SQL text bounds.

    Examples:
        >>> worth_checking("select name from artist"), worth_checking("select repeat('x', 3)")
        (False, True)
    """
    return any(name in lowered for name in _BUILDER_NAMES) or _may_grow_values(lowered)


def check(tree: Mapping[str, Any], lowered: str) -> None:
    """Refuse a serialized query tree (``json_serialize_sql``) that could build a huge value.

    Args:
        tree: The parsed output of DuckDB's ``json_serialize_sql``.
        lowered: The query's text, lowercased (decides which checks run).

    Raises:
        ValueTooBig: With a message for the agent.
    """
    statements = tree.get("statements")
    if any(name in lowered for name in _BUILDER_NAMES):
        for name, arguments in _function_calls(tree):
            sized = _SIZED_FUNCTIONS.get(name)
            if name in _SIZED_FUNCTIONS:
                positions = range(len(arguments)) if sized is None else sized
                sizes = [_integer_constant(arguments[i]) if i < len(arguments) else 0 for i in positions]
                if any(size is None or abs(size) > MAX_BUILT_SIZE for size in sizes):
                    raise ValueTooBig(
                        f"{name}() may only be called with constant sizes of at most {MAX_BUILT_SIZE:,} here: it "
                        "builds one value that can exhaust the sandbox's memory. Use a smaller constant, or the "
                        "table function (FROM range(n)) to make rows."
                    )
            elif name in _FORMAT_FUNCTIONS and arguments:
                text = _string_constant(arguments[0])
                if text is None or _WIDE_FIELD.search(text):
                    raise ValueTooBig(
                        f"{name}() needs a constant format string without five-digit numbers (field widths of 10,000 "
                        "or more) here."
                    )
    try:
        bound = _GrowthBound(MAX_GROWTH)
        for statement in statements if isinstance(statements, list) else ():
            bound.node(statement.get("node") if isinstance(statement, dict) else None, {}, [])
    except _TooMuchGrowth as refused:
        raise ValueTooBig(
            f"This query can make one value more than {MAX_GROWTH:,} times longer than the data it starts from "
            f"(at {refused.name[:40]}): nested concatenations (||, concat), replace() or aggregates that feed "
            "each other across subqueries, CTE levels or recursion multiply lengths. DuckDB builds such a value "
            "in one step that the time and memory limits cannot stop. Build smaller values."
        ) from None
    except RecursionError:
        raise ValueTooBig("The query is nested too deeply to check. Send a flatter query.") from None


def _function_calls(node: Any) -> list[tuple[str, list[Any]]]:
    """``(lowercased name, argument expressions)`` of every scalar function call in a serialized SQL tree.

    A table function in ``FROM`` (``range(n)`` there streams rows) is skipped; its arguments are not.

    Examples:
        >>> tree = {"type": "TABLE_FUNCTION", "function": {"class": "FUNCTION", "function_name": "range",
        ...         "arguments": [{"expression": {"class": "FUNCTION", "function_name": "REPEAT", "arguments": []}}]}}
        >>> _function_calls(tree)
        [('repeat', [])]
    """
    calls = []
    stack = [(node, False)]
    while stack:  # iterative: a deeply nested query must not exhaust Python's recursion limit
        item, is_table_function = stack.pop()
        if isinstance(item, list):
            stack.extend((child, False) for child in item)
            continue
        if not isinstance(item, dict):
            continue
        if item.get("class") == "FUNCTION" and not is_table_function:
            arguments = [argument.get("expression") for argument in item.get("arguments") or ()]
            calls.append((str(item.get("function_name", "")).lower(), arguments))
        for key, child in item.items():
            stack.append((child, key == "function" and item.get("type") == "TABLE_FUNCTION"))
    return calls


# --------------------------------------------------------------------------------------------------
# Growth: how much a query can multiply the length of one value (nested concatenation, replace, ...)
#
# DuckDB builds each string in one call that neither the interrupt nor memory_limit sees, so a value
# that grows tenfold per CTE level (s||s||...||s over eight levels) or per nested replace() ran 7-10 s
# and took 2-5 GB under a 2 s, 256 MB limit. A watchdog on RSS cannot help: the interrupt is only
# seen between operators. So the query's tree is read and each expression's growth bounded
# statically: a base column or a short literal is 1, concatenation adds, replace/repeat/aggregates
# multiply, and a column of a CTE or subquery carries the growth of the expression that made it
# (a recursive CTE is evaluated again until it settles: doubling each round never does).


class _TooMuchGrowth(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


#: Characters of a string literal that count as one unit of growth (a base column's value is one unit).
_UNIT_CHARS = 100

#: Growth of the value an aggregate collects from many rows (string_agg, list, ...): the aggregate itself
#: is built row by row under memory_limit (which stops it near 50 MB of text), so it may get large, and
#: little more growth is left for what is built from it: ``'Artists: ' || string_agg(name, ', ')`` and
#: two aggregates joined pass, three copies of one do not (four copies of a 47 MB one peaked at 650 MB).
_AGGREGATE_GROWTH = MAX_GROWTH * 34 // 100  # just over a third

#: Rounds a recursive CTE is re-evaluated for: growth that doubles each round passes any bound by then.
_RECURSION_ROUNDS = 16

#: Aggregates (and window functions) that collect many rows into one string or list.
_COLLECTING_AGGREGATES = frozenset(
    ("string_agg", "group_concat", "listagg", "list", "array_agg", "histogram", "list_agg", "array_agg",
     "json_group_array", "json_group_object", "map_agg")
)

#: Functions that make a string a fixed number of times longer at most, per character: hex digits,
#: binary digits, percent-escapes and JSON escapes of a character's (up to 4) UTF-8 bytes. A blob
#: (from a cast or encode()) prints each byte as up to 4 characters (\xNN).
_EXPANDING = {
    "hex": 8, "to_hex": 8, "bin": 32, "to_binary": 32, "url_encode": 12, "to_json": 6, "json_quote": 6,
    "array_to_json": 6, "row_to_json": 6, "json_array": 6, "json_object": 6, "regexp_escape": 2,
    "to_base64": 6, "base64": 6, "encode": 16, "unhex": 4, "from_hex": 4, "from_binary": 4, "unbin": 4,
    "from_base64": 4,
}

#: Types a cast to which can print 16 times longer than its text: 4 UTF-8 bytes a character, \xNN a byte.
_BLOB_TYPES = ("blob", "bytea", "binary", "varbinary")

#: Functions whose result is no longer than their longest argument.
_NON_GROWING = frozenset(
    ("coalesce", "ifnull", "nullif", "greatest", "least", "substring", "substr", "left", "right", "trim",
     "ltrim", "rtrim", "upper", "lower", "ucase", "lcase", "min", "max", "first", "last", "any_value",
     "arg_min", "arg_max", "min_by", "max_by", "if", "translate", "reverse", "lag", "lead", "first_value",
     "last_value", "nth_value", "strip_accents")
)

#: Functions that apply a lambda to each element of a list.
_LAMBDA_FUNCTIONS = frozenset(
    ("list_transform", "array_transform", "apply", "list_apply", "array_apply", "list_reduce", "array_reduce",
     "reduce", "list_filter", "array_filter", "filter")
)

#: A call whose result can be longer than the sum of its arguments, or a second query level: worth the
#: tree. ``||`` and ``concat`` alone only add up argument lengths, which the SQL text bounds.
_MULTIPLYING_CALL = re.compile(
    r"(?:replace|repeat|agg|list\w*|array\w*|apply|reduce|group_concat|histogram|lpad|rpad|printf|format"
    r"|range|generate_series|transform|filter|unnest|hex|bin|binary|url_encode|json\w*|escape|base64|encode)\"?\s*\("
    r"|blob|bytea|binary"
)


def _may_grow_values(lowered: str) -> bool:
    """Whether a query's text (lowercased) may multiply a value's length, so its tree must be read.

    Examples:
        >>> _may_grow_values("select firstname || ' ' || lastname from employee")
        False
        >>> _may_grow_values("with a as (select s||s as s from t) select s||s from a")
        True
        >>> _may_grow_values("select replace(name, 'a', 'b') from artist")
        True
    """
    if _MULTIPLYING_CALL.search(lowered):
        return True
    if "||" not in lowered and "concat" not in lowered:
        return False
    levels = ("select", "values", "with", "pivot")  # the words that start a query level
    return sum(lowered.count(word) for word in levels) >= 2


@dataclass
class _Source:
    """A relation in a FROM clause: its alias and the growth of each of its columns."""

    alias: str
    columns: dict[str, float]
    default: float = 1.0


class _GrowthBound:
    """Bounds the growth of every value a serialized SELECT tree builds; raises :class:`_TooMuchGrowth`."""

    def __init__(self, limit: float):
        self.limit = limit
        self.steps = 0

    # ---- query nodes: each returns its output columns as (name, growth), in order

    def node(self, node: Any, ctes: dict[str, list[tuple[str, float]]], outer: list[list[_Source]]):
        self._step()
        if not isinstance(node, dict):
            return []
        kind = node.get("type")
        ctes = self._ctes(node.get("cte_map"), ctes, outer)
        if kind == "SET_OPERATION_NODE":
            return _merge(self.node(node.get("left"), ctes, outer), self.node(node.get("right"), ctes, outer))
        if kind == "RECURSIVE_CTE_NODE":
            name = str(node.get("cte_name", "")).lower()
            aliases = node.get("aliases") or []
            columns = _rename(self.node(node.get("left"), ctes, outer), aliases)
            for _ in range(_RECURSION_ROUNDS):
                ctes = {**ctes, name: columns}
                grown = _merge(columns, _rename(self.node(node.get("right"), ctes, outer), aliases))
                if grown == columns:
                    break
                columns = grown
            return columns
        if kind != "SELECT_NODE":
            return [("", self.anything(node, outer, ctes))]
        sources = self.from_table(node.get("from_table"), ctes, outer)
        scopes = [sources, *outer]
        for key in ("where_clause", "having", "qualify", "group_expressions"):
            self.anything(node.get(key), scopes, ctes)
        columns = []
        for item in node.get("select_list") or ():
            if isinstance(item, dict) and item.get("class") == "STAR" and not item.get("columns"):
                for source in sources:
                    columns.extend(source.columns.items() or [("", source.default)])
                continue
            growth = self.expression(item, scopes, ctes)
            name = item.get("alias") if isinstance(item, dict) else None
            if not name and isinstance(item, dict) and item.get("class") == "COLUMN_REF":
                name = (item.get("column_names") or [""])[-1]
            columns.append((str(name or "").lower(), growth))
        return columns

    def _ctes(self, cte_map: Any, ctes: dict, outer: list) -> dict[str, list[tuple[str, float]]]:
        entries = cte_map.get("map") if isinstance(cte_map, dict) else None
        if not entries:
            return ctes
        ctes = dict(ctes)
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), dict):
                continue
            value = entry["value"]
            columns = self.node(value.get("query_node") or (value.get("query") or {}).get("node"), ctes, outer)
            ctes[str(entry.get("key", "")).lower()] = _rename(columns, value.get("aliases") or [])
        return ctes

    def from_table(self, table: Any, ctes: dict, outer: list) -> list[_Source]:
        self._step()
        if not isinstance(table, dict):
            return []
        kind = table.get("type")
        if kind == "JOIN":  # the right side may be LATERAL: it sees the left side's columns
            left = self.from_table(table.get("left"), ctes, outer)
            sources = left + self.from_table(table.get("right"), ctes, [left, *outer])
            self.anything(table.get("condition"), [sources, *outer], ctes)
            return sources
        if kind == "BASE_TABLE":
            name = str(table.get("table_name", "")).lower()
            alias = str(table.get("alias") or name).lower()
            columns = ctes.get(name)
            if columns is None:
                return [_Source(alias, {})]
            return [_Source(alias, _as_dict(columns), max((g for _, g in columns), default=1.0))]
        if kind == "SUBQUERY":
            subquery = table.get("subquery")
            node = subquery.get("node") if isinstance(subquery, dict) else None
            columns = _rename(self.node(node, ctes, outer), table.get("column_name_alias") or [])
            return [_Source(str(table.get("alias") or "").lower(), _as_dict(columns),
                            max((g for _, g in columns), default=1.0))]
        if kind == "EMPTY":
            return []
        if kind == "TABLE_FUNCTION":  # streams rows: its columns are no bigger than its arguments
            function = table.get("function")
            growth = self.anything(function.get("arguments") if isinstance(function, dict) else None, outer, ctes)
            return [_Source(str(table.get("alias") or "").lower(), {}, growth)]
        # VALUES, PIVOT, ...: every column as big as anything in it.
        growth = self.anything(table, outer, ctes)
        return [_Source(str(table.get("alias") or "").lower(), {}, growth)]

    # ---- expressions: each returns its growth

    def expression(self, expression: Any, scopes: list[list[_Source]], ctes: dict) -> float:
        self._step()
        if not isinstance(expression, dict):
            return 1.0
        kind = expression.get("class")
        if kind == "CONSTANT":
            text = _string_constant(expression)
            return max(1.0, len(text) / _UNIT_CHARS) if text is not None else 1.0
        if kind == "COLUMN_REF":
            return _column_growth([str(name).lower() for name in expression.get("column_names") or ()], scopes)
        if kind in ("STAR", "POSITIONAL_REFERENCE"):
            return max((max([s.default, *s.columns.values()]) for scope in scopes for s in scope), default=1.0)
        if kind == "SUBQUERY":
            subquery = expression.get("subquery")
            node = subquery.get("node") if isinstance(subquery, dict) else None
            columns = self.node(node, ctes, scopes)
            self.anything(expression.get("child"), scopes, ctes)
            return self._check("subquery", max((g for _, g in columns), default=1.0))
        if kind in ("FUNCTION", "WINDOW"):
            return self.function(expression, scopes, ctes)
        if kind == "CASE":
            checks = [check for check in expression.get("case_checks") or () if isinstance(check, dict)]
            for check in checks:
                self.expression(check.get("when_expr"), scopes, ctes)
            results = [check.get("then_expr") for check in checks] + [expression.get("else_expr")]
            return max(self.expression(result, scopes, ctes) for result in results)
        if kind in ("COMPARISON", "CONJUNCTION", "TYPE"):
            self.anything({k: v for k, v in expression.items() if k != "class"}, scopes, ctes)
            return 1.0
        if kind == "CAST":
            target = expression.get("type_expr") or expression.get("cast_type")
            growth = self.expression(expression.get("child"), scopes, ctes)
            if any(name in json.dumps(target).lower() for name in _BLOB_TYPES):
                growth *= 16
            return self._check("CAST", growth)
        if kind in ("OPERATOR", "COLLATE", "BETWEEN"):
            parts = self._children(expression)
            return max((self.expression(part, scopes, ctes) for part in parts), default=1.0)
        parts = self._children(expression)
        return self._check(str(kind), sum(self.expression(part, scopes, ctes) for part in parts) or 1.0)

    def function(self, call: dict[str, Any], scopes: list[list[_Source]], ctes: dict) -> float:
        name = str(call.get("function_name", "")).lower()
        arguments = [item.get("expression") for item in call.get("arguments") or () if isinstance(item, dict)]
        arguments += list(call.get("children") or ())
        for key in ("filter", "partitions", "orders", "order_bys"):  # evaluated for nested queries, not sized
            self.anything(call.get(key), scopes, ctes)
        if name in _LAMBDA_FUNCTIONS:
            return self._check(name, self._lambda_call(name, arguments, scopes, ctes))
        growths = [self.expression(argument, scopes, ctes) for argument in arguments]
        first = growths[0] if growths else 1.0
        if name in _COLLECTING_AGGREGATES:  # each row's value was bounded already, the total is not
            growth = max(first, _AGGREGATE_GROWTH)
        elif name in ("replace", "regexp_replace"):
            to = _string_constant(arguments[2]) if len(arguments) > 2 else None
            if name == "replace":
                old = _string_constant(arguments[1]) if len(arguments) > 1 else None
                ratio = len(to) / len(old) if to is not None and old else None
            else:  # an empty match can take the replacement before every character; \0 copies the match
                ratio = len(to) + 1 + to.count("\\") if to is not None else None
            if ratio is None:
                ratio = (growths[2] if len(growths) > 2 else 1.0) * _UNIT_CHARS
            growth = first * max(1.0, ratio)
        elif name == "repeat":
            growth = first * abs(_integer_constant(arguments[1]) or MAX_BUILT_SIZE) if len(arguments) > 1 else first
        elif name in _SIZED_FUNCTIONS:  # lpad, range, list_resize: size set by a constant (checked already)
            sizes = [abs(_integer_constant(argument) or MAX_BUILT_SIZE) for argument in arguments[1:] or arguments]
            growth = first + max(sizes, default=0) / _UNIT_CHARS
        elif name in _EXPANDING:
            growth = first * _EXPANDING[name]
        elif name in _NON_GROWING:
            growth = max(growths, default=1.0)
        else:  # concat, ||, concat_ws, list_concat, printf, and anything else: at most the sum of the arguments
            growth = sum(growths) or 1.0
        return self._check(name, growth)

    def _lambda_call(self, name: str, arguments: list[Any], scopes: list[list[_Source]], ctes: dict) -> float:
        """A list function's growth: its lambda applied to the whole list (each element is no bigger).

        A reduce whose body uses the accumulator twice (``lambda a, b: a || a || b``) doubles it per
        element: unbounded.
        """
        growths = []
        for argument in arguments:
            if isinstance(argument, dict) and argument.get("class") == "LAMBDA":
                continue
            growths.append(self.expression(argument, scopes, ctes))
        size = max(growths, default=1.0)
        growth = size
        for argument in arguments:
            if not isinstance(argument, dict) or argument.get("class") != "LAMBDA":
                continue
            parameters = _lambda_parameters(argument.get("lhs"))
            body = argument.get("expr")
            bound = {parameter: size for parameter in parameters}
            growth = max(growth, self.expression(body, [[_Source("", bound)], *scopes], ctes))
            if "reduce" in name and parameters:
                probe = _GrowthBound(math.inf)
                probe.steps = self.steps
                accumulator = {parameter: 1.0 for parameter in parameters} | {parameters[0]: 1e9}
                if probe.expression(body, [[_Source("", accumulator)], *scopes], ctes) >= 2e9:
                    raise _TooMuchGrowth(name)
        return growth

    def anything(self, item: Any, scopes: list, ctes: dict | None = None) -> float:
        """The largest growth of the expressions and queries anywhere in ``item`` (a clause, a table function)."""
        ctes = ctes or {}
        if isinstance(item, list):
            return max((self.anything(child, scopes, ctes) for child in item), default=1.0)
        if not isinstance(item, dict):
            return 1.0
        if "class" in item:
            return self.expression(item, scopes, ctes)
        if item.get("type") in ("SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE"):
            return max((g for _, g in self.node(item, ctes, scopes)), default=1.0)
        if item.get("type") in ("JOIN", "SUBQUERY", "BASE_TABLE", "TABLE_FUNCTION") and "function" not in item:
            sources = self.from_table(item, ctes, scopes)
            return max((max([s.default, *s.columns.values()]) for s in sources), default=1.0)
        return max((self.anything(child, scopes, ctes) for child in item.values()), default=1.0)

    def _children(self, expression: dict[str, Any]) -> list[Any]:
        children = []
        for value in expression.values():
            if isinstance(value, dict) and "class" in value:
                children.append(value)
            elif isinstance(value, list):
                for entry in value:
                    if isinstance(entry, dict) and "class" in entry:
                        children.append(entry)
                    elif isinstance(entry, dict) and isinstance(entry.get("expression"), dict):
                        children.append(entry["expression"])
        return children

    def _check(self, name: str, growth: float) -> float:
        if growth > self.limit:
            raise _TooMuchGrowth(name)
        return growth

    def _step(self) -> None:
        self.steps += 1
        if self.steps > 200_000:  # a pathological tree: refuse rather than spend seconds reading it
            raise _TooMuchGrowth("the query's size")


def _column_growth(names: list[str], scopes: list[list[_Source]]) -> float:
    """A column's growth: from the innermost scope whose relations have it (1 for a base table's column)."""
    if not names:
        return 1.0
    column, qualifier = names[-1], (names[-2] if len(names) > 1 else None)
    best = 1.0
    if qualifier is not None:  # or a struct's field (s.v): the largest of the names read as a column
        best = max(_column_growth([name], scopes) for name in names[:-1])
    for sources in scopes:
        found = [
            source.columns.get(column, source.default if not source.columns else None)
            for source in sources
            if qualifier is None or source.alias == qualifier
        ]
        found = [growth for growth in found if growth is not None]
        if found and qualifier is not None:
            return max([best, *found])
        best = max([best, *found])  # unqualified: maybe an outer query's column, so the largest anywhere
    return best


def _lambda_parameters(lhs: Any) -> list[str]:
    """The parameter names of a lambda's left-hand side (``x`` or ``(a, b)``), lowercased."""
    if isinstance(lhs, dict) and lhs.get("class") == "COLUMN_REF":
        return [str((lhs.get("column_names") or [""])[-1]).lower()]
    if isinstance(lhs, dict) and lhs.get("class") == "FUNCTION":
        arguments = [item.get("expression") for item in lhs.get("arguments") or () if isinstance(item, dict)]
        return [name for argument in arguments for name in _lambda_parameters(argument)]
    return []


def _merge(left: list[tuple[str, float]], right: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Columns of a UNION: the names of the left side, the larger growth of each position."""
    merged = [(name, max(growth, right[i][1]) if i < len(right) else growth) for i, (name, growth) in enumerate(left)]
    return merged + right[len(left):]


def _rename(columns: list[tuple[str, float]], aliases: Sequence[Any]) -> list[tuple[str, float]]:
    return [(str(aliases[i]).lower() if i < len(aliases) else name, g) for i, (name, g) in enumerate(columns)]


def _as_dict(columns: list[tuple[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, growth in columns:
        out[name] = max(growth, out.get(name, 0.0))
    return out


def _literal(expression: Any) -> dict[str, Any] | None:
    if isinstance(expression, dict) and expression.get("class") == "CONSTANT":
        literal = expression.get("literal")
        return literal if isinstance(literal, dict) else None
    return None


def _integer_constant(expression: Any) -> int | None:
    """The value of an integer literal expression, else ``None``.

    Examples:
        >>> _integer_constant({"class": "CONSTANT", "literal": {"kind": "INTEGER", "text": "-12"}})
        -12
        >>> _integer_constant({"class": "COLUMN_REF"}) is None
        True
    """
    literal = _literal(expression)
    text = literal.get("text") if literal is not None else None
    digits = text.lstrip("+-") if isinstance(text, str) else ""
    if not digits or len(digits) > 20 or not digits.isascii() or not digits.isdigit():
        return None
    return int(text)


def _string_constant(expression: Any) -> str | None:
    literal = _literal(expression)
    if literal is None or literal.get("kind") != "STRING" or not isinstance(literal.get("text"), str):
        return None
    return literal["text"]
