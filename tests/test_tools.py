"""The build tools run as `python -m tools.<name>` (that no runtime module imports them: test_layers.py)."""
import subprocess
import sys

import pytest

from course_utils.env import REPO_ROOT

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
