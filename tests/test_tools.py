"""The build tools stay outside the runtime package, and each runs as `python -m tools.<name>`."""
import ast
import subprocess
import sys

import pytest

from course_utils.env import REPO_ROOT

RUNTIME = sorted((REPO_ROOT / "course_utils").rglob("*.py"))
GENERATOR = ("tools", "course_utils.world")     # the build tools, or a generator put back inside the package


def imports_of(source: str, package: str) -> set[str]:
    """Every module a file of `package` imports, anywhere in it (also inside functions), relative imports
    resolved: `from . import world` in course_utils counts as course_utils and course_utils.world."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def reaches_generator(module: str) -> bool:
    return any(module == g or module.startswith(g + ".") for g in GENERATOR)


def test_the_import_finder_catches_every_way_of_importing_the_tools():
    for source in ("import tools.world", "from tools import colab", "from tools.pretrain import main",
                   "from . import world", "from .world import make_people", "def f():\n    import tools\n"):
        assert any(reaches_generator(m) for m in imports_of(source, "course_utils")), source
    assert not any(reaches_generator(m) for m in imports_of("from .data import load_world\nimport toolz",
                                                             "course_utils"))


@pytest.mark.parametrize("path", RUNTIME, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_runtime_module_imports_the_build_tools(path):
    package = ".".join(path.relative_to(REPO_ROOT).parent.parts)
    offending = sorted(m for m in imports_of(path.read_text(encoding="utf-8"), package) if reaches_generator(m))
    assert not offending, (f"{path.relative_to(REPO_ROOT)} imports {offending}: runtime code reads the shipped "
                           "data/ (course_utils.data), never the tools that write it")


@pytest.mark.parametrize("tool", ["world", "pretrain", "student_copies", "colab"])
def test_every_tool_answers_help_from_the_repository_root(tool):
    done = subprocess.run([sys.executable, "-m", f"tools.{tool}", "--help"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr


@pytest.fixture
def small_pretraining(monkeypatch):
    """tools.pretrain's `pretrain_model`, on a model small enough for a unit test."""
    from tools import pretrain
    monkeypatch.setattr(pretrain, "MODEL_SHAPE", dict(n_layer=1, n_embd=32, n_head=2, n_positions=64))
    return pretrain.pretrain_model


def test_pretraining_warms_up_then_decays_to_a_tenth(tmp_path, tokenizer, small_pretraining):
    info = small_pretraining("single", tokenizer, tmp_path / "m", steps=50, batch_size=2, lr=1e-3, device="cpu",
                             log_every=1)
    assert (tmp_path / "m" / "model.safetensors").exists()
    rates = [h["lr"] for h in info["history"]]
    assert len(rates) == 50
    # Linear warm-up over 2% of the steps (here one step, from zero), then a cosine decay to a tenth of the peak.
    assert rates[:2] == pytest.approx([0.0, 1e-3]) and max(rates) == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[1:], rates[2:])) and rates[-1] == pytest.approx(1e-4, rel=0.01)


def test_pretraining_is_seeded(tmp_path, tokenizer, small_pretraining):
    losses = [[h["loss"] for h in small_pretraining("single", tokenizer, tmp_path / str(i), steps=3, batch_size=2,
                                                    seed=seed, device="cpu", log_every=1)["history"]]
              for i, seed in enumerate([0, 0, 1])]
    assert losses[0] == losses[1] and losses[0] != losses[2], losses
