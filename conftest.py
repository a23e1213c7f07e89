"""How the whole suite runs, for the unit tests in tests/ and the notebooks nbval re-executes alike (a
conftest here at the root applies to both, also when one notebook is tested alone).

Pin the device to CPU and the hub offline before anything imports torch or transformers, so the suite
passes the same on a laptop with a GPU, in CI, and without a network. Notebook kernels started by nbval
inherit this environment."""
import os

os.environ["COURSE_DEVICE"] = "cpu"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

# pytest-xdist runs the suite in several worker processes (addopts in pyproject.toml), one notebook per
# worker. Each worker, and the notebook kernel it starts (kernels inherit this environment), gets its share
# of the cores rather than all of them: two kernels each spinning two threads on two cores run far slower
# than two kernels with one thread each, and the course's small matrices gain little past 4 threads. An
# OMP_NUM_THREADS the caller sets is a ceiling (CI sets it to vary the count). The caller's value is kept
# aside first, because this file also runs in the xdist controller, whose environment the workers inherit.
_asked = os.environ.setdefault("COURSE_ASKED_OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", ""))
_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_threads = max(1, min(int(_asked) if _asked else 4, _cores // _workers))
os.environ["OMP_NUM_THREADS"] = str(_threads)
torch.set_num_threads(_threads)

