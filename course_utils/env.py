"""Where things run and where things live: device choice, seeding, Colab detection, data paths.

Every `COURSE_*` environment switch is read here and nowhere else:
    COURSE_DATA       the data/ folder to use (default: the one beside the package)
    COURSE_DEVICE     cpu, cuda, cuda:1, ... (default: CUDA when present)
    COURSE_MODEL      the base model `load_base()` loads (default: the embedded gpt2-tiny; e.g. gpt2)
    COURSE_CPU_BF16   1: bf16 autocast when training on the CPU (default 0: float32)
    COURSE_SCALE_UP   1: notebook 03's GPT-2 124M scale-up cell runs outside Colab
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import transformers

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The shipped data folder: `$COURSE_DATA`, else `data/` beside the package (a clone or an
    install from one: pyproject ships data/ as the `course_data` package)."""
    if os.environ.get("COURSE_DATA"):
        return Path(os.environ["COURSE_DATA"]).resolve()
    beside = REPO_ROOT / "data"
    if (beside / "world").is_dir():
        return beside
    try:
        import course_data  # installed copy of data/ (non-editable install, e.g. Colab)
        return Path(course_data.__path__[0]).resolve()
    except ImportError:
        raise FileNotFoundError(
            "Cannot find the course's data folder. Run from a clone of the repository, install it with "
            "`pip install .`, or set COURSE_DATA to the path of its data/ folder.") from None


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """`device` if given, else `$COURSE_DEVICE`, else CUDA when present, else CPU."""
    choice = device if device is not None else os.environ.get("COURSE_DEVICE") or None
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(choice)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={str(choice)!r} was asked for, but torch sees no CUDA GPU here. "
                           "Use device='cpu' or unset COURSE_DEVICE.")
    return dev


CPU_BF16_SWITCH = "COURSE_CPU_BF16"


def cpu_bf16_requested() -> bool:
    """Whether training on the CPU should use bf16 autocast: only when `$COURSE_CPU_BF16` is 1.

    The course trains in float32 on every CPU by default. bf16 is faster on CPUs with bf16 matrix units
    (Intel AMX) and slower elsewhere, and either way the last digits of every training run then depend on
    the machine; float32 gives every instructor's laptop the same run, within float rounding. The switch
    lets you try the bf16 path (CI runs the whole suite with it flipped)."""
    value = os.environ.get(CPU_BF16_SWITCH, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"{CPU_BF16_SWITCH}={value!r}: use 1 (bf16 autocast on the CPU) or 0 (float32, the default)")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a notebook prints the same numbers on every run."""
    transformers.set_seed(seed)


def model_choice(default: str) -> str:
    """`$COURSE_MODEL` if set (e.g. `gpt2` on Colab), else `default`."""
    return os.environ.get("COURSE_MODEL") or default


def scale_up_requested() -> bool:
    """Whether notebook 03's GPT-2 124M cell should run here: on Colab, or when `$COURSE_SCALE_UP` is 1."""
    return in_colab() or os.environ.get("COURSE_SCALE_UP") == "1"


def in_colab() -> bool:
    return "google.colab" in sys.modules


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


WIDGETS_SWITCH = "COURSE_WIDGETS"


def widgets_disabled() -> bool:
    """Whether `$COURSE_WIDGETS` turns the quiz and chat widgets off (0, false, no or off): they then show
    as text, as they do wherever no live kernel can render them."""
    return os.environ.get(WIDGETS_SWITCH, "1").strip().lower() in ("0", "false", "no", "off")
