"""What every recorded experiment shares: its JSON record, updated under a lock, and where it ran.

A record is read again just before each write, under a file lock, so processes running other points of
the same experiment side by side keep theirs.
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import transformers


def read(path: Path, **empty) -> dict:
    """The record at `path`, or an empty one (`points` and whatever lists `empty` names)."""
    return json.loads(path.read_text()) if path.exists() else {"points": [], **empty}


@contextmanager
def updating(path: Path, **empty):
    """Yield the record at `path` for changing in place; it is written back when the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = read(path, **empty)
        yield record
        path.write_text(json.dumps(record, indent=1) + "\n")


def provenance(**machine) -> dict:
    """The versions, the machine (with the experiment's own `machine` entries) and the time of a write."""
    return {"versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "transformers": transformers.__version__},
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "device": "cpu", **machine},
            "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
