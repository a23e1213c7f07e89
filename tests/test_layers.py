"""course_utils is built in layers that import only downwards (DESIGN.md §3): core -> data -> engine ->
experiments -> ui. A module may use its own layer and the layers below it, never one above, and no runtime
module uses the build tools in tools/ (they write data/; runtime code reads it)."""
import ast
from pathlib import Path

import pytest

from course_utils.env import REPO_ROOT

LAYERS = {
    "core": ["env", "loss", "chat_template"],
    "data": ["data", "encode"],
    "engine": ["models", "train", "evaluate", "scorers", "adapters"],
    "experiments": ["replay", "forgetting", "generalization", "data_quality", "trl_bridge", "unknown_facts",
                    "chat_tokens", "reasoning"],
    "ui": ["widgets", "quiz", "chat", "checks", "token_view"],
}
RANK = {module: rank for rank, modules in enumerate(LAYERS.values()) for module in modules}
PACKAGE = REPO_ROOT / "course_utils"


def module_sources() -> dict[str, str]:
    """Every module of the package by its dotted name below course_utils ("train", "checks.loop", ...)."""
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p.read_text(encoding="utf-8")
            for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE}


def imported_modules(name: str, source: str) -> set[str]:
    """The top-level course_utils modules `source` imports, and other packages as "@name"."""
    package = name.split(".")[:-1]          # "checks.loop" lives in course_utils/checks
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            targets = [node.module.split(".")]
        elif isinstance(node, ast.ImportFrom):
            if node.level - 1 > len(package):          # above course_utils: another top-level package
                found.add("@" + (node.module or node.names[0].name).split(".")[0])
                continue
            base = package[: len(package) - (node.level - 1)]
            module = node.module.split(".") if node.module else []
            targets = [["course_utils", *base, *module, alias.name] for alias in node.names]
        else:
            continue
        for parts in targets:
            found.add(parts[1] if parts[0] == "course_utils" and len(parts) > 1 else "@" + parts[0])
    return found


def violations(sources: dict[str, str]) -> list[str]:
    """Every import that points up the layers, or into tools/, as 'importer -> imported'."""
    bad = []
    for name, source in sorted(sources.items()):
        own = name.split(".")[0]
        for target in sorted(imported_modules(name, source)):
            if target == "@tools":
                bad.append(f"{name} -> tools (a build tool)")
            elif target in RANK and target != own and RANK[target] > RANK[own]:
                bad.append(f"{name} ({_layer(own)}) -> {target} ({_layer(target)})")
    return bad


def _layer(module: str) -> str:
    return list(LAYERS)[RANK[module]]


def test_every_module_has_a_layer():
    unplaced = {name.split(".")[0] for name in module_sources()} - set(RANK)
    assert not unplaced, f"put {sorted(unplaced)} in a layer of LAYERS (and in DESIGN.md §3)"


def test_imports_only_point_down_the_layers():
    assert violations(module_sources()) == []


@pytest.mark.parametrize("importer, line, expected", [
    ("loss", "from .train import train_sft", "loss (core) -> train (engine)"),
    ("encode", "from course_utils.forgetting import SUPPORT_RUN", "encode (data) -> forgetting (experiments)"),
    ("train", "import course_utils.quiz", "train (engine) -> quiz (ui)"),
    ("checks.loop", "from ..chat import Chat", None),                     # ui -> ui is fine
    ("checks.loop", "from ...tools import world", "checks.loop -> tools (a build tool)"),
    ("checks.loop", "from ..encode import collate", None),                # ui -> data is fine
    ("evaluate", "from tools.world import make_people", "evaluate -> tools (a build tool)"),
])
def test_the_check_sees_an_arrow_reversed(importer, line, expected):
    found = violations({importer: line + "\n"})
    assert found == ([expected] if expected else []), found


def test_every_course_switch_is_read_in_env_only():
    """COURSE_* environment switches are read in course_utils/env.py and nowhere else in the package."""
    import re
    readers = [name for name, source in module_sources().items()
               if name != "env" and re.search(r"(environ|getenv)[^\n]*COURSE_", source)]
    assert readers == [], f"{readers} read a COURSE_* switch: add a function to env.py and call it"
