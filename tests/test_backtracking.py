"""Every regex that reads model output runs in linear time: 200 KB of the characters that trip backtracking.

Issue 12, item 3: ``extract_sql`` took 10 s on 2.4 KB of blank lines after a fence, the SQL
tokenizer 8.6 s on 50,000 ``[``, the citation reward a minute on a 200 KB single-token report.
Each function below reads text a model wrote (a completion, an answer, a report, SQL, a judge's
reply); each must finish 200 KB of each input within a generous bound (the linear versions take
milliseconds; the quadratic ones took minutes).
"""

from __future__ import annotations

import time

import pytest

from agentgym import report
from agentgym.core import Task
from agentgym.envs.deepsearch.env import DeepSearchEnv
from agentgym.envs.text2sql.env import TextToSQLEnv, TextToSQLReward
from agentgym.messages import between
from agentgym.rewards import citation, judge, outcome, process, sql, toolrl, webshop
from agentgym.rewards.base import final_answer, final_response
from agentgym.trajectory import Step, Trajectory

SIZE = 200_000
BOUND_S = 1.0  # per call; generous for a loaded machine


def _fill(unit: str, prefix: str = "") -> str:
    return prefix + (unit * (SIZE // len(unit) + 1))[:SIZE]


HOSTILE = {
    "spaces": _fill(" "),
    "newlines": _fill("\n"),
    "tabs and spaces": _fill("\t "),
    "one long token": _fill("x"),
    "brackets": _fill("["),
    "parentheses": _fill("("),
    "braces": _fill("{"),
    "backticks": _fill("`"),
    "fences": _fill("```"),
    "blank lines after a sql fence": _fill("\n", "```sql"),
    "blank lines after a json fence": _fill(" \n", "```json"),
    "quotes": _fill("'"),
    "double quotes": _fill('"'),
    "comment openers": _fill("/*"),
    "unclosed answers": _fill("<answer>"),
    "unclosed tool calls": _fill("<tool_call>"),
    "unclosed information": _fill("<information>"),
    "think then response": _fill("</think>\n<response>", "<think>"),
    "think then tool call": _fill("</think>\n<tool_call>\n", "<think>"),
    "unclosed citations": _fill("[1](https://a.org/"),
    "citations on one line": _fill("[1](https://a)"),
    "a scheme-less long url": _fill("a", "https://"),
    "schemes": _fill("a://"),
    "labels then spaces": _fill(" ", "Score: "),
    "verdict then spaces": _fill(" ", "verdict: "),
    "stars": _fill("*", "Score"),
    "signs and spaces": _fill("- "),
    "digits": _fill("1,"),
    "sql keywords": _fill("from x join "),
    "mixed": _fill("a [(`{< \n'\""),
}


def _trajectory(text: str) -> Trajectory:
    final = {"name": "answer", "arguments": {"answer": text[:100], "report": text}}
    return Trajectory(
        env_id="x",
        task_id="t",
        messages=[{"role": "assistant", "content": text}],
        steps=[Step(action=text, observation=text, info={"final": final}, tool_calls=[final])],
        terminated=True,
    )


def _text2sql_reward(text: str) -> object:
    submit = {"name": "submit", "arguments": {"sql": text}}
    step = Step(text, tool_calls=[submit], info={"final": submit, "rows": None, "error": "refused"})
    task = Task("t", "How many?", gold={"sql": "SELECT count(*) FROM Artist", "rows": [[275]]})
    return TextToSQLReward()(Trajectory("e", "t", steps=[step], terminated=True), task)


_ENVS: dict[type, object] = {}


def _parse_with(env_class: type) -> object:
    """The env's parse (its ``<answer>`` fallback reads the completion), the env made once."""

    def parse(text: str) -> object:
        if env_class not in _ENVS:
            _ENVS[env_class] = env_class()
        return _ENVS[env_class].parse(text)

    return parse


READERS = {
    "rewards.sql.extract_sql": sql.extract_sql,
    "rewards.sql.schema_items": sql.schema_items,
    "rewards.sql.schema_linking_score": lambda text: sql.schema_linking_score(text, "SELECT a FROM t"),
    "rewards.sql.ngram_jaccard": lambda text: sql.ngram_jaccard(text, "SELECT a FROM t"),
    "rewards.sql.gold_orders": sql.gold_orders,
    "rewards.sql.parse_judge_score": sql.parse_judge_score,
    "rewards.sql.xml_count": sql.xml_count,
    "text2sql reward": _text2sql_reward,
    "rewards.citation.extract_citations": citation.extract_citations,
    "rewards.citation.extract_citations strict": lambda text: citation.extract_citations(text, strict=True),
    "rewards.citation.normalize_text": citation.normalize_text,
    "rewards.citation.parse_json_reply": citation.parse_json_reply,
    "rewards.citation.seen_urls": lambda text: citation.seen_urls(_trajectory(text)),
    "rewards.citation URL stripping": lambda text: citation._URL.sub(" ", text),
    "rewards.citation argument URLs": lambda text: citation._argument_urls({"url": text}),
    "rewards.outcome.normalize_answer": outcome.normalize_answer,
    "rewards.outcome.parse_number": outcome.parse_number,
    "rewards.outcome.extract_answer": outcome.extract_answer,
    "rewards.outcome.is_valid_sequence": outcome.is_valid_sequence,
    "rewards.outcome.is_retrieval_correct": lambda text: outcome.is_retrieval_correct(text, "Paris"),
    "rewards.judge.parse_verdict": judge.parse_verdict,
    "rewards.judge.is_content_free": judge.is_content_free,
    "rewards.toolrl.toolrl_format": lambda text: [
        toolrl.toolrl_format(text, tool_call=calls, response_tag=tag)
        for calls in (True, False)
        for tag in (True, False)
    ],
    "rewards.process.parse_score": process.parse_score,
    "rewards.webshop.noun_tokens": webshop.noun_tokens,
    "rewards.base.between": lambda text: between(text, "<answer>", "</answer>"),
    "rewards.base.final_answer": lambda text: final_answer(_trajectory(text)),
    "rewards.base.final_response": lambda text: final_response(_trajectory(text)),
    "report.render_conversation": lambda text: report.render_conversation(_trajectory(text)),
    "DeepSearch parse": _parse_with(DeepSearchEnv),
    "TextToSQL parse": _parse_with(TextToSQLEnv),
}


@pytest.fixture(scope="module", autouse=True)
def _close_envs():
    yield
    for env in _ENVS.values():
        env.close()
    _ENVS.clear()


@pytest.mark.parametrize("name", list(READERS))
def test_each_reader_of_model_output_is_fast_on_200_kb_of_backtracking_bait(name):
    reader = READERS[name]
    reader("SELECT 1")  # loads whatever the reader loads once (the DeepSearch env builds its index)
    slow = {}
    for kind, text in HOSTILE.items():
        started = time.perf_counter()
        try:
            reader(text)
        except (ValueError, TypeError, KeyError):
            pass  # a clear refusal is fine; only time is under test
        seconds = time.perf_counter() - started
        if seconds > BOUND_S:
            slow[kind] = round(seconds, 2)
    assert not slow, f"{name} is slow on: {slow}"
