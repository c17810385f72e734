"""``agentgym new NAME``: generate a new environment from the template in ``agentgym/assets/template``.

The template is a small working env (a task set with difficulties and splits, three tools, a reward
with per-step components, an oracle), its tests (the conformance suite through
:class:`~agentgym.testing.EnvConformance`, the oracle on every task, offline rescoring) and a README
section (overview, task, tools, rewards, quickstart). Files end in ``.tmpl`` and hold ``{{key}}``
placeholders (:func:`render`).

Where it goes depends on ``--dir`` (default: the current directory):

* **Standalone** (any directory): ``DIR/<module>/`` is an installable project, ``pyproject.toml``
  (depending on agentgym), ``README.md``, the package ``<module>/`` and ``tests/``. Importing
  ``<module>`` registers ``agentgym/<Name>-v0``; ``pip install -e DIR/<module>`` installs it.
* **In the agentgym package** (``--dir`` is the ``envs/`` directory of an agentgym checkout): the
  sub-package ``envs/<module>/`` (with its README section) and ``tests/envs/<module>/test_env.py``.
  Importing ``agentgym.envs.<module>`` registers the id at once; to ship the env with agentgym, add
  it to ``ENVIRONMENTS`` in ``agentgym/__init__.py`` and to ``packages`` in ``pyproject.toml``
  (the command prints both lines).

Names: ``my-env``, ``my_env``, ``MyEnv`` and ``myEnv`` all give the module ``my_env``, the id
``agentgym/MyEnv-v0`` and the class ``MyEnv`` (``demo`` gives ``DemoEnv``, id ``agentgym/Demo-v0``).
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import gymnasium as gym

import agentgym

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["EnvName", "Generated", "TemplateError", "generate", "is_envs_dir", "parse_name", "render"]

#: Episode length the generated env registers with.
MAX_TURNS = 8
#: Longest accepted name (characters), so generated lines stay within the style's 120 columns.
MAX_NAME = 40
#: Names that would shadow packages a generated env (or its tests) imports.
RESERVED = {"agentgym", "gymnasium", "numpy", "pytest", "test", "tests", "envs", "rewards", "assets", "setuptools"}

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


class TemplateError(ValueError):
    """A name or target ``agentgym new`` refuses; the message says why and what to do."""


@dataclass(frozen=True)
class EnvName:
    """The spellings of an environment's name.

    Attributes:
        module: The Python package name (``my_env``).
        camel: The CamelCase name used in the id (``MyEnv``).
        dist: The distribution name of a standalone project (``my-env``).
        title: The human-readable name (``My Env``).

    Examples:
        >>> name = parse_name("my-env")
        >>> name.env_id, name.env_class, name.reward_class
        ('agentgym/MyEnv-v0', 'MyEnv', 'MyEnvReward')
        >>> parse_name("demo").env_class
        'DemoEnv'
    """

    module: str
    camel: str
    dist: str
    title: str

    @property
    def env_id(self) -> str:
        """The Gymnasium id, ``agentgym/<Camel>-v0``."""
        return f"agentgym/{self.camel}-v0"

    @property
    def env_class(self) -> str:
        """The env class: the CamelCase name, with ``Env`` appended unless it ends so already."""
        return self.camel if self.camel.endswith("Env") else f"{self.camel}Env"

    @property
    def reward_class(self) -> str:
        """The reward class, ``<Camel>Reward``."""
        return f"{self.camel}Reward"


def parse_name(name: str) -> EnvName:
    """Normalise a name given in kebab, snake or Camel case.

    Args:
        name: E.g. ``my-env``, ``my_env``, ``MyEnv``, ``myEnv``.

    Returns:
        Its spellings.

    Raises:
        TemplateError: If the name is empty, too long, starts with a digit, holds characters other
            than letters, digits, ``-`` and ``_``, or would shadow a module (a Python keyword, a
            standard-library module, or one of :data:`RESERVED`).

    Examples:
        >>> parse_name("my_env") == parse_name("MyEnv") == parse_name("myEnv") == parse_name("my-env")
        True
        >>> parse_name("SQLTool").module, parse_name("web2-shop").camel
        ('sql_tool', 'Web2Shop')
        >>> parse_name("2fast")
        Traceback (most recent call last):
        ...
        agentgym.template.TemplateError: invalid name '2fast': start with a letter; use letters, digits, '-' and '_'
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name or ""):
        raise TemplateError(f"invalid name {name!r}: start with a letter; use letters, digits, '-' and '_'")
    if len(name) > MAX_NAME:
        raise TemplateError(f"invalid name {name!r}: at most {MAX_NAME} characters")
    words = [word for part in re.split(r"[-_]+", name) for word in _WORD.findall(part)]
    module = "_".join(word.lower() for word in words)
    capitalized = [word if word.isupper() else word.capitalize() for word in words]
    camel = "".join(capitalized)
    if keyword.iskeyword(module) or module in sys.stdlib_module_names or module in RESERVED:
        raise TemplateError(f"invalid name {name!r}: the module {module!r} would shadow a Python module; pick another")
    return EnvName(module=module, camel=camel, dist=module.replace("_", "-"), title=" ".join(capitalized))


def is_envs_dir(path: str | Path) -> bool:
    """Whether ``path`` is the ``envs/`` directory of an agentgym checkout (the ``agentgym.envs`` package).

    Examples:
        >>> import agentgym.envs
        >>> is_envs_dir(Path(agentgym.envs.__file__).parent), is_envs_dir(".")
        (True, False)
    """
    path = Path(path).resolve()
    return (
        path.name == "envs"
        and (path / "__init__.py").is_file()
        and (path.parent / "agentgym" / "__init__.py").is_file()
    )


def render(text: str, values: dict[str, str]) -> str:
    """Replace every ``{{key}}`` in ``text`` with ``values[key]``.

    Args:
        text: Template text.
        values: The placeholders' values.

    Returns:
        The text with every placeholder replaced.

    Raises:
        KeyError: If the text holds a placeholder ``values`` lacks.

    Examples:
        >>> render("class {{env_class}}(AgentEnv):", {"env_class": "DemoEnv"})
        'class DemoEnv(AgentEnv):'
    """

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"the template uses {{{{{key}}}}}, which has no value")
        return values[key]

    return _PLACEHOLDER.sub(replace, text)


@dataclass
class Generated:
    """What :func:`generate` wrote.

    Attributes:
        name: The env's name spellings.
        in_package: Whether it went into agentgym's ``envs/`` (else a standalone project).
        root: The project directory (standalone) or the sub-package directory (in the package).
        files: Every file written, in order.
        next_steps: What to do next, as lines to print.
    """

    name: EnvName
    in_package: bool
    root: Path
    files: list[Path] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


def template_dir() -> Traversable:
    """The template shipped with agentgym (``agentgym/assets/template``)."""
    return files("agentgym.assets") / "template"


def generate(name: str, directory: str | Path = ".") -> Generated:
    """Generate an environment from the template.

    Args:
        name: The env's name (see :func:`parse_name`).
        directory: Where to put it: any directory for a standalone project (created if missing),
            or agentgym's ``envs/`` directory for a sub-package of agentgym.

    Returns:
        What was written and what to do next.

    Raises:
        TemplateError: For an invalid name, a name whose id or module is taken, a target that
            exists already (nothing is written then), or a file that cannot be written.
    """
    env_name = parse_name(name)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise TemplateError(f"--dir {directory} is not a directory")
    in_package = is_envs_dir(directory)
    if env_name.env_id in gym.registry:
        raise TemplateError(f"{env_name.env_id} is registered already; pick another name")
    if in_package:
        root = directory / env_name.module
        tests = directory.parent / "tests" / "envs" / env_name.module / "test_env.py"
        package, source = f"agentgym.envs.{env_name.module}", root
        targets = {"README.md.tmpl": root / "README.md", "tests/test_env.py.tmpl": tests}
    else:
        if importlib.util.find_spec(env_name.module) is not None:
            raise TemplateError(
                f"a module named {env_name.module!r} is importable already; pick another name, "
                "or the generated package would shadow it (or be shadowed)"
            )
        root = directory / env_name.module
        tests = root / "tests" / f"test_{env_name.module}.py"
        package, source = env_name.module, root / env_name.module
        targets = {
            "pyproject.toml.tmpl": root / "pyproject.toml",
            "README.md.tmpl": root / "README.md",
            "tests/test_env.py.tmpl": tests,
        }
    for entry in (template_dir() / "package").iterdir():
        if entry.name.endswith(".tmpl"):
            targets[f"package/{entry.name}"] = source / entry.name.removesuffix(".tmpl")
    for target in (root, tests):
        if target.exists():
            raise TemplateError(f"{target} exists already; remove it or pick another name or --dir")

    def relative(path: Path) -> str:
        base = directory.parent if in_package else root
        return path.resolve().relative_to(base.resolve()).as_posix()

    values = {
        "title": env_name.title,
        "env_id": env_name.env_id,
        "env_class": env_name.env_class,
        "reward_class": env_name.reward_class,
        "module": env_name.module,
        "package": package,
        "dist": env_name.dist,
        "agentgym_version": agentgym.__version__,
        "max_turns": str(MAX_TURNS),
        "test_imports": _test_imports(env_name, package, in_package),
        "tests_path": relative(tests),
        "source_path": relative(source / "env.py"),
        "install": _install_note(env_name, in_package),
    }
    rendered = {target: render((template_dir() / source_name).read_text(encoding="utf-8"), values)
                for source_name, target in targets.items()}
    generated = Generated(env_name, in_package, root)
    for target, text in rendered.items():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as error:
            raise TemplateError(f"cannot write {target}: {error}") from error
        generated.files.append(target)
    generated.next_steps = _next_steps(env_name, in_package, root, values)
    return generated


def _test_imports(name: EnvName, package: str, in_package: bool) -> str:
    """The generated test's import block, grouped as isort (ruff ``I``) wants it in each layout."""
    agentgym_imports = [
        "from agentgym import Trajectory",
        "from agentgym.testing import EnvConformance, check_oracle",
        "from agentgym.tools import ToolCall, format_call",
    ]
    own = f"from {package} import {name.env_class}"
    if in_package:  # agentgym is first-party here
        return "\n".join(["import gymnasium as gym", "", *sorted([*agentgym_imports, own])])
    return "\n".join(["import gymnasium as gym", *agentgym_imports, "", own])


def _install_note(name: EnvName, in_package: bool) -> str:
    if in_package:
        return (
            f"The env is part of agentgym: importing `agentgym.envs.{name.module}` registers it, and once it is "
            "listed in `ENVIRONMENTS` (`agentgym/__init__.py`) `import agentgym` does."
        )
    return (
        f"Install it with `pip install -e .` in this directory (or put this directory on `PYTHONPATH`); "
        f"importing `{name.module}` registers `{name.env_id}`."
    )


def _next_steps(name: EnvName, in_package: bool, root: Path, values: dict[str, str]) -> list[str]:
    if in_package:
        return [
            f"{name.env_id} is registered when agentgym.envs.{name.module} is imported. To ship it with agentgym:",
            "  1. agentgym/__init__.py, in ENVIRONMENTS:",
            f'       "{name.env_id}": ("agentgym.envs.{name.module}.env:{name.env_class}", {MAX_TURNS}),',
            '  2. pyproject.toml, [tool.setuptools] packages: add "agentgym.envs.' + name.module + '"',
            f"  3. README.md, Environments: add a row and the section from envs/{name.module}/README.md",
            "Then:",
            f"  pytest {values['tests_path']}",
            f"  agentgym check agentgym.envs.{name.module}:{name.env_id}",
            f"Edit {values['source_path']}: the tasks, the tools, {name.reward_class} and oracle_action.",
        ]
    return [
        "Next:",
        f"  cd {root}",
        "  pip install -e .          # or: export PYTHONPATH=$PWD",
        f"  pytest                    # {values['tests_path']}: conformance suite, oracle, reward",
        f"  agentgym check {name.module}:{name.env_id}",
        f"Edit {values['source_path']}: the tasks, the tools, {name.reward_class} and oracle_action.",
    ]
