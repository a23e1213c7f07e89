"""Where things run and where things live: device choice, seeding, Colab detection, data paths."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import torch

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


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with bf16 matrix units (Intel AMX): there bf16 autocast trains about 1.5-2x faster
    than float32. On other CPUs bf16 is emulated and slower, so the course keeps float32 there."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except Exception:  # a private probe: if it changes, fall back to float32
        return False


def seed_everything(seed: int = 0) -> None:
    """Seed Python, torch (CPU and CUDA) so a notebook prints the same numbers on every run."""
    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def in_colab() -> bool:
    return "google.colab" in sys.modules


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
