"""``agentgym/DeepSearch-v0``: answer a multi-hop question by searching a corpus, reading pages and citing them.

The agent has four tools: ``search(query, k)`` (BM25 over passages by default; dense or hybrid
with ``retriever=``), ``open(url, page)`` (paginated page text), ``find(url, pattern)`` (matching
lines of a page) and ``answer(answer, report)``, which ends the episode. It may also answer with
``<answer>...</answer>`` in plain text.
The reward (:class:`DeepSearchReward`) combines the outcome with the citation rubric (CaRR,
C-GRPO style), a format score, and a per-step process reward for finding gold evidence.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from agentgym.core import AgentEnv, Task, TaskSet
from agentgym.envs.deepsearch.corpus import Corpus, factbook_corpus, fictional_corpus
from agentgym.envs.deepsearch.retrieval import RETRIEVERS, Retriever, make_retriever
from agentgym.envs.deepsearch.tasks import factbook_tasks, fictional_tasks, hotpotqa_corpus, hotpotqa_tasks
from agentgym.rewards.base import RewardResult, between, final_answer, final_response
from agentgym.rewards.citation import CitationRubric, extract_citations, normalize_text
from agentgym.rewards.outcome import exact_match, f1_score, gold_answers
from agentgym.tools import ParsedAction, Tool, ToolCall, ToolError, format_call
from agentgym.trajectory import Trajectory

SYSTEM_PROMPT = """You answer questions by researching a document collection with tools.
Search for pages, open them to read, and use find to locate lines in a long page. When you know the
answer, call answer with the short answer (a name or a number) and a report that supports it with
citations written as [n](url), citing only pages you have opened. Be brief.

{tools}"""



# --------------------------------------------------------------------------------------------------
# Reward


class DeepSearchReward:
    """The DeepSearch reward: outcome + citation rubric (C-GRPO, only-positive) + format + evidence.

    Per episode, on its last step (``R_out`` is exact match, or token F1 with ``outcome="f1"``;
    ``R_rubric`` is :class:`~agentgym.rewards.citation.CitationRubric`'s rule-based value):

    * ``outcome`` = ``(1 - alpha) * R_out``
    * ``citation`` = ``alpha * R_rubric`` when ``R_out > 0``, else 0. With ``outcome`` this is
      C-GRPO's shipped code path (``only_positive``; its group normalization is not used there, so
      the per-trajectory value is exact; apply :func:`~agentgym.rewards.citation.c_grpo_rewards`
      on groups for the other variants).
    * ``format`` = ``format_score`` when the answer is wrong but was given with at least one
      ``[n](url)`` citation (Search-R1's format credit for a well-formed wrong answer), else 0.

    Per step: ``evidence`` = ``evidence_weight`` × (the fraction of the task's gold evidence
    sentences that first appear in this step's observation). Range of the return:
    ``[0, 1 + evidence_weight]``; an oracle earns exactly ``1 + evidence_weight``.

    Args:
        alpha: The rubric's weight (CaRR's ``rubric_reward_ratio``; 0.3 as shipped).
        outcome: ``"em"`` (exact match, Search-R1 normalization) or ``"f1"``.
        format_score: Credit for a well-formed wrong answer.
        evidence_weight: Total process reward for finding every gold evidence sentence.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> task = Task("t", "Capital of Peru?", gold={"answer": "Lima", "entities": {"E0": ["Lima"]},
        ...     "rubrics": [{"text": "<E0> is the capital of Peru.", "evidence_url": "factbook://peru/government",
        ...                  "evidence": "Capital - name: Lima"}]})
        >>> final = {"name": "answer", "arguments": {"answer": "Lima", "report": ""}}
        >>> episode = Trajectory("e", "t", steps=[Step("...", info={"final": final})], terminated=True)
        >>> DeepSearchReward()(episode, task).value
        0.7
    """

    def __init__(
        self, alpha: float = 0.3, outcome: str = "em", format_score: float = 0.1, evidence_weight: float = 0.1
    ):
        if outcome not in ("em", "f1"):
            raise ValueError(f"outcome must be 'em' or 'f1', got {outcome!r}")
        self.alpha = alpha
        self.outcome = outcome
        self.format_score = format_score
        self.evidence_weight = evidence_weight
        self.rubric = CitationRubric(identify="rule", support="rule")

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one episode: ``value`` is the return, ``details["steps"]`` the components per step."""
        evidence = [normalize_text(item["evidence"]) for item in task.gold.get("rubrics", ())]
        found: set[int] = set()
        steps = []
        for step in trajectory.steps:
            components = {}
            if self.evidence_weight and evidence and not step.invalid_action:
                observation = normalize_text(step.observation)
                new = {i for i, sentence in enumerate(evidence) if i not in found and sentence in observation}
                found |= new
                components["evidence"] = self.evidence_weight * len(new) / len(evidence)
            steps.append(components)
        details: dict[str, Any] = {}
        if steps and (trajectory.terminated or trajectory.truncated):
            final = self._final_components(trajectory, task, details)
            steps[-1].update(final)
        per_step = [float(sum(components.values())) for components in steps]
        details["steps"] = steps
        return RewardResult(float(sum(per_step)), per_step, details)

    def _final_components(self, trajectory: Trajectory, task: Task, details: dict[str, Any]) -> dict[str, float]:
        answer = final_answer(trajectory)
        golds = gold_answers(task)
        if answer is None:
            r_out = 0.0
        elif self.outcome == "em":
            r_out = exact_match(answer, golds)
        else:
            r_out = f1_score(answer, golds)
        has_rubrics = bool(task.gold.get("rubrics"))
        alpha = self.alpha if has_rubrics else 0.0  # no rubrics (e.g. HotpotQA): the outcome is everything
        r_rubric = self.rubric(trajectory, task).value if r_out > 0 and has_rubrics else 0.0
        response = final_response(trajectory) or ""
        well_formed = answer is not None and bool(extract_citations(response))
        details.update(answer=answer, outcome=r_out, rubric=r_rubric, well_formed=well_formed)
        return {
            "outcome": (1 - alpha) * r_out,
            "citation": alpha * r_rubric if r_out > 0 else 0.0,
            "format": self.format_score if r_out == 0 and well_formed else 0.0,
        }


# --------------------------------------------------------------------------------------------------
# Data, loaded once per process and shared by every env


@functools.lru_cache(maxsize=8)
def load_data(corpus: str, data_path: str | None, world_seed: int, n_entities: int) -> tuple[Corpus, TaskSet]:
    """The corpus and the full task set for a corpus choice (cached: envs share them).

    Args:
        corpus: ``"factbook"``, ``"fictional"`` or ``"hotpotqa"``.
        data_path: The HotpotQA-format file, for ``"hotpotqa"``.
        world_seed: The fictional world's seed.
        n_entities: The fictional world's size.

    Returns:
        ``(corpus, tasks)``.

    Raises:
        ValueError: For an unknown corpus, or a missing ``data_path``.
    """
    if corpus == "factbook":
        return factbook_corpus(), factbook_tasks()
    if corpus == "fictional":
        return fictional_corpus(world_seed, n_entities), fictional_tasks(world_seed, n_entities)
    if corpus == "hotpotqa":
        if not data_path:
            raise ValueError("corpus='hotpotqa' needs data_path=<a HotpotQA-format JSON or JSONL file>")
        return hotpotqa_corpus(data_path), hotpotqa_tasks(data_path)
    raise ValueError(f"unknown corpus {corpus!r}: choose 'factbook', 'fictional' or 'hotpotqa'")


# --------------------------------------------------------------------------------------------------
# The environment


class DeepSearchEnv(AgentEnv):
    """Multi-hop question answering over the CIA World Factbook with search, open, find and cited answers."""

    def __init__(
        self,
        *,
        corpus: str = "factbook",
        data_path: str | None = None,
        world_seed: int = 0,
        n_entities: int = 200,
        page_chars: int = 3000,
        max_results: int = 10,
        alpha: float = 0.3,
        outcome: str = "em",
        retriever: str = "bm25",
        **kwargs: Any,
    ):
        """Build the env.

        Args:
            corpus: ``"factbook"`` (default: the CIA World Factbook, 2,000+ questions),
                ``"fictional"`` (a seeded fictional world, contamination-free) or ``"hotpotqa"``
                (questions and paragraphs from ``data_path``).
            data_path: The HotpotQA-format file for ``corpus="hotpotqa"``.
            world_seed: Seed of the fictional world.
            n_entities: Size of the fictional world.
            page_chars: Characters per page of ``open``.
            max_results: Most results one ``search`` returns.
            alpha: The citation rubric's weight in the reward.
            outcome: ``"em"`` or ``"f1"``.
            retriever: What ``search`` uses: ``"bm25"`` (default), ``"dense"`` (all-MiniLM-L6-v2
                embeddings + faiss) or ``"hybrid"`` (reciprocal-rank fusion of the two). Dense and
                hybrid need ``pip install 'agentgym[dense]'``; the passage embeddings are computed
                once per corpus and cached on disk (minutes for the whole Factbook on a CPU).
            **kwargs: :class:`~agentgym.core.AgentEnv` options (``split``, ``max_turns``,
                ``tool_format``...).

        Raises:
            ValueError: For an unknown ``retriever`` (or corpus, or outcome).
            ImportError: For ``retriever="dense"`` or ``"hybrid"`` without the ``dense`` extra.
        """
        if retriever not in RETRIEVERS:
            raise ValueError(f"unknown retriever {retriever!r}: choose 'bm25', 'dense' or 'hybrid'")
        self.corpus, tasks = load_data(corpus, data_path, world_seed, n_entities)
        self.retriever: Retriever = make_retriever(retriever, self.corpus)
        self.page_chars = page_chars
        self.max_results = max_results
        self.reward = DeepSearchReward(alpha=alpha, outcome=outcome)
        super().__init__(tasks, **kwargs)

    def make_tools(self) -> list[Tool]:
        """search, open, find and the final answer."""
        return [
            Tool.from_function(self.search),
            Tool.from_function(self.open),
            Tool.from_function(self.find),
            Tool.from_function(self.answer, final=True),
        ]

    def system_prompt(self) -> str:
        """How to research and answer, then how to call the tools."""
        return SYSTEM_PROMPT.format(tools=super().system_prompt())

    # ---- tools ------------------------------------------------------------------------------

    def search(self, query: str, k: int = 5) -> str:
        """Search the collection; returns the best pages with a snippet each.

        Args:
            query: What to look for, in a few words.
            k: How many results (1 to 10).
        """
        if not query.strip():
            raise ToolError("the query is empty; search for a few words, e.g. capital of Chile")
        if not 1 <= k <= self.max_results:
            raise ToolError(f"k must be between 1 and {self.max_results}, got {k}")
        hits = self.retriever.search(query, k)
        if not hits:
            return f"No results for {query[:100]!r}. Try other words."
        return "\n\n".join(f"[{i}] {hit.title}\nURL: {hit.url}\n{hit.snippet}" for i, hit in enumerate(hits, 1))

    def open(self, url: str, page: int = 0) -> str:
        """Open a page by URL and read it, one part at a time.

        Args:
            url: The page's URL, as search gave it.
            page: Which part to read, from 0.
        """
        parts = self._parts(self._page(url).url)
        if not 0 <= page < len(parts):
            raise ToolError(f"{url} has parts 0 to {len(parts) - 1}; part {page} does not exist")
        title = self.corpus.get(url).title
        more = f" Next: open(url, page={page + 1})." if page + 1 < len(parts) else ""
        return f"{title}\nURL: {url} (part {page} of 0-{len(parts) - 1}){more}\n\n{parts[page]}"

    def find(self, url: str, pattern: str) -> str:
        """Find the lines of a page that contain some text (case-insensitive).

        Args:
            url: The page's URL.
            pattern: The text to look for (plain text, not a regular expression).
        """
        page = self._page(url)
        needle = pattern.strip().lower()
        if not needle:
            raise ToolError("the pattern is empty; give a word or phrase to find")
        lines = [line for line in page.text.split("\n") if needle in line.lower()]
        if not lines:
            return f"No line of {url} contains {pattern[:100]!r}."
        shown = lines[:20]
        extra = f"\n[{len(lines) - 20} more lines match]" if len(lines) > 20 else ""
        return f"{page.title}\nURL: {url}\n\n" + "\n".join(shown) + extra

    def answer(self, answer: str, report: str = "") -> str:
        """Give the final answer; this ends the episode.

        Args:
            answer: The short answer: a name, a number or a date.
            report: Why, with citations written as [n](url) to pages you opened.
        """
        return "Answer recorded."

    # ---- protocol hooks ---------------------------------------------------------------------

    def parse(self, action: str | Mapping[str, Any]) -> ParsedAction:
        """Tool calls as usual; a plain ``<answer>...</answer>`` is the answer tool with that text."""
        parsed = super().parse(action)
        text = action if isinstance(action, str) else action.get("content") if isinstance(action, Mapping) else None
        if parsed.calls or not isinstance(text, str):
            return parsed
        found = between(text, "<answer>", "</answer>")  # linear, unlike the regex <answer>(.*?)</answer>
        if not found:
            return parsed
        body = found[-1].strip()
        short, _, report = body.partition("\n")
        return ParsedAction(
            content=text, calls=(ToolCall("answer", {"answer": short.strip(), "report": report.strip()}),)
        )

    def oracle_action(self) -> str | dict[str, Any]:
        """Solve the task from gold data through the tools: search, open each evidence page, answer."""
        gold = self.task.gold
        done_urls = {call["arguments"].get("url") for step in self.trajectory.steps for call in step.tool_calls}
        if not self.trajectory.steps:
            return format_call(ToolCall("search", {"query": self.task.prompt}), self.tool_format)
        for rubric in gold.get("rubrics", ()):
            url = rubric["evidence_url"]
            if url not in done_urls:
                part = self._part_with(url, rubric["evidence"])
                if part is None:
                    return format_call(ToolCall("find", {"url": url, "pattern": rubric["evidence"]}), self.tool_format)
                return format_call(ToolCall("open", {"url": url, "page": part}), self.tool_format)
        return format_call(
            ToolCall("answer", {"answer": gold["answer"], "report": self._oracle_report()}), self.tool_format
        )

    # ---- helpers ----------------------------------------------------------------------------

    def _page(self, url: str):
        try:
            return self.corpus.get(url)
        except KeyError as error:
            raise ToolError(str(error).strip("\"'") + " Use a URL from the search results.") from None

    def _parts(self, url: str) -> list[str]:
        return _paginate(self.corpus.get(url).text, self.page_chars)

    def _part_with(self, url: str, text: str) -> int | None:
        for index, part in enumerate(self._parts(url)):
            if text in part:
                return index
        return None

    def _oracle_report(self) -> str:
        """A report that names every hidden entity and cites each rubric's evidence page."""
        names = {
            key: aliases[0] if isinstance(aliases, list) else aliases
            for key, aliases in self.task.gold.get("entities", {}).items()
        }
        sentences = []
        for n, rubric in enumerate(self.task.gold.get("rubrics", ()), 1):
            text = re.sub(r"<(E\d+)>", lambda m: names.get(m.group(1), m.group(0)), rubric["text"])
            sentences.append(f"{text} [{n}]({rubric['evidence_url']})")
        return " ".join(sentences)


@functools.lru_cache(maxsize=4096)
def _paginate(text: str, page_chars: int) -> list[str]:
    """Split a page into parts of about ``page_chars`` characters at line breaks (lines stay whole)."""
    parts, current, size = [], [], 0
    for line in text.split("\n"):
        if current and size + len(line) + 1 > page_chars:
            parts.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    parts.append("\n".join(current))
    return parts
