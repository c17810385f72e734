"""Small environments for testing the protocol, the conformance suite and the CLI.

``CapitalsEnv`` is a well-behaved env: look a country's capital up, then answer. The ``Broken*``
envs each break one rule, so the tests can show the conformance suite catching it. Importing this
module registers ``toy/Capitals-v0`` (a test-only namespace; the package registers no toy env).
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import threading
import time

import gymnasium as gym

from agentgym.core import AgentEnv, Task, TaskSet, split_of
from agentgym.tools import Tool, ToolCall, ToolError, format_call
from agentgym.trajectory import Step

CAPITALS = {
    "France": "Paris",
    "Peru": "Lima",
    "Japan": "Tokyo",
    "Kenya": "Nairobi",
    "Chile": "Santiago",
    "Egypt": "Cairo",
    "Norway": "Oslo",
    "Canada": "Ottawa",
    "Ghana": "Accra",
    "Nepal": "Kathmandu",
    "Spain": "Madrid",
    "Cuba": "Havana",
    "Iran": "Tehran",
    "Mali": "Bamako",
    "Laos": "Vientiane",
    "Fiji": "Suva",
    "Oman": "Muscat",
    "Chad": "N'Djamena",
    "Togo": "Lome",
    "Iraq": "Baghdad",
}


def capital_tasks() -> TaskSet:
    """One task per country, split by the stable hash of its id."""
    return TaskSet(
        Task(
            id=f"capital-{country.lower()}",
            prompt=f"What is the capital of {country}?",
            gold={"answer": capital, "country": country},
            split=split_of(f"capital-{country.lower()}", dev=0.2, test=0.2),
        )
        for country, capital in CAPITALS.items()
    )


class CapitalsEnv(AgentEnv):
    """Answer a country's capital after looking it up (a test env)."""

    def __init__(self, **kwargs):
        super().__init__(capital_tasks(), **kwargs)
        self.looked_up: set[str] = set()
        self.answer_given: str | None = None

    def make_tools(self) -> list[Tool]:
        return [Tool.from_function(self.lookup), Tool.from_function(self.answer, final=True)]

    def begin_episode(self, task: Task) -> None:
        self.looked_up = set()
        self.answer_given = None

    def lookup(self, country: str) -> str:
        """Look up a country's capital.

        Args:
            country: The country's English name.
        """
        if country not in CAPITALS:
            raise ToolError(f"no country named {country[:50]!r}")
        self.looked_up.add(country)
        return f"The capital of {country} is {CAPITALS[country]}."

    def answer(self, text: str) -> str:
        """Give the final answer.

        Args:
            text: The capital.
        """
        self.answer_given = text
        return "Answer recorded."

    def step_reward(self, step: Step, done: bool) -> dict[str, float]:
        components = {}
        if (
            any(
                call["name"] == "lookup" and call["arguments"].get("country") == self.task.gold["country"]
                for call in step.tool_calls
            )
            and not step.invalid_action
        ):
            components["process"] = 0.1
        if done:
            components["outcome"] = float(self.answer_given == self.task.gold["answer"])
        return components

    def oracle_action(self) -> str:
        country = self.task.gold["country"]
        if country not in self.looked_up:
            return format_call(ToolCall("lookup", {"country": country}), self.tool_format)
        return format_call(ToolCall("answer", {"text": self.task.gold["answer"]}), self.tool_format)


class NondeterministicEnv(CapitalsEnv):
    """Draws its task from an unseeded generator: breaks seed determinism."""

    def reset(self, *, seed=None, options=None):
        task = random.Random().choice(list(self.all_tasks))
        return super().reset(seed=seed, options={"task_id": task.id})


class RaisingEnv(CapitalsEnv):
    """Its lookup tool raises KeyError on an unknown country instead of ToolError."""

    def lookup(self, country: str) -> str:
        """Look up a country's capital.

        Args:
            country: The country's English name.
        """
        return f"The capital of {country} is {CAPITALS[country]}."


class ThreadLeakingEnv(CapitalsEnv):
    """Starts a worker thread that close() never stops."""

    release = threading.Event()  # the test sets it afterwards so the thread ends

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.worker = threading.Thread(target=self.release.wait, name="leaky-worker")
        self.worker.start()


class FileLeakingEnv(CapitalsEnv):
    """Opens a scratch file that close() never closes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.scratch = tempfile.TemporaryFile()


class EndlessEnv(CapitalsEnv):
    """Never reports truncation, so a scripted episode runs forever."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self._done = False
        return obs, reward, terminated, False, info


class BadObservationEnv(CapitalsEnv):
    """Returns a number as the reset observation."""

    def reset(self, *, seed=None, options=None):
        _, info = super().reset(seed=seed, options=options)
        return 42, info


class WrongOracleEnv(CapitalsEnv):
    """Its oracle answers the wrong city."""

    def oracle_action(self) -> str:
        return format_call(ToolCall("answer", {"text": "Atlantis"}), self.tool_format)


if "toy/Capitals-v0" not in gym.registry:
    gym.register(id="toy/Capitals-v0", entry_point=CapitalsEnv)  # the env ends episodes itself (max_turns)


class SlowEnv(CapitalsEnv):
    """Its lookup tool sleeps for as many seconds as the country's name says (``"sleep:5"``)."""

    def lookup(self, country: str) -> str:
        """Look up a country's capital.

        Args:
            country: The country's English name.
        """
        if country.startswith("sleep:"):
            time.sleep(float(country.split(":", 1)[1]))
        return super().lookup(country)


class ProcessCapitalsEnv(SlowEnv):
    """Asks the runner for a worker process of its own."""

    metadata = {**CapitalsEnv.metadata, "agentgym.process": True}


for _id, _entry in [("toy/Slow-v0", SlowEnv), ("toy/ProcessCapitals-v0", ProcessCapitalsEnv)]:
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry)


# ---- envs that each fail one hostile-input class of the conformance suite -------------------------


class SurrogateCrashEnv(CapitalsEnv):
    """Its lookup tool encodes the country as UTF-8, which raises on a lone surrogate."""

    def lookup(self, country: str) -> str:
        """Look up a country's capital.

        Args:
            country: The country's English name.
        """
        country.encode("utf-8")
        return super().lookup(country)


class LongRunSleepEnv(CapitalsEnv):
    """Its lookup tool stalls (sleeps) on an argument over 10,000 characters, as a backtracking regex would."""

    stall_seconds = 0.3

    def lookup(self, country: str) -> str:
        """Look up a country's capital.

        Args:
            country: The country's English name.
        """
        if len(country) > 10_000:
            time.sleep(self.stall_seconds)
        return super().lookup(country)


class HugeIntEnv(CapitalsEnv):
    """Reads any long run of digits in an action as a Python int, which raises past 4,300 digits.

    (The core refuses huge integers in tool arguments before a tool runs, so this hole is made by hand
    in ``step``, the way an env that inspects raw actions could.)
    """

    def make_tools(self) -> list[Tool]:
        return [*super().make_tools(), Tool.from_function(self.page)]

    def page(self, number: int) -> str:
        """Show a page of the atlas.

        Args:
            number: The page number.
        """
        return f"page {number}"

    def step(self, action):
        text = action if isinstance(action, str) else json.dumps(action)
        digits = re.search(r"\d{4301}", text)
        if digits:
            int(digits.group())
        return super().step(action)


class RecordDroppingEnv(CapitalsEnv):
    """Forgets the step of any action over 1,000 characters: its assistant message has no step."""

    def step(self, action):
        result = super().step(action)
        if len(str(action)) > 1000:
            self.trajectory.steps.pop()
        return result


class SlowCallsEnv(CapitalsEnv):
    """Each lookup takes 2 ms: fine one at a time, 1 s for 500 calls in one completion (no per-turn call cap)."""

    def __init__(self, **kwargs):
        super().__init__(**{"max_calls_per_turn": None, **kwargs})

    def lookup(self, country: str) -> str:
        """Look up a country's capital.

        Args:
            country: The country's English name.
        """
        time.sleep(0.002)
        return super().lookup(country)
