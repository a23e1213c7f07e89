"""How the whole suite runs, for the unit tests in tests/ and the notebooks nbval re-executes alike (a
conftest here at the root applies to both, also when one notebook is tested alone).

Pin the device to CPU and the hub offline before anything imports torch or transformers, so the suite
passes the same on a laptop with a GPU, in CI, and without a network. Notebook kernels started by nbval
inherit this environment."""
import os
import time

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


# The order in which xdist deals the notebooks. With `--dist loadscope` each notebook is one unit of work
# (its cells share a kernel), and a worker takes the next unit from this order when it is nearly done, so
# dealing the longest first keeps both workers busy until the end (about 1,040 s of work ends near 540 s on
# two workers, instead of 626 s when a long notebook came last). `--no-loadscope-reorder` (pyproject.toml)
# keeps this order; xdist's own orders by cell count, which says little about time. `--dist loadgroup`
# cannot do this: pytest 9.2 no longer reads the node id xdist 3.8 rewrites to form groups.
# Seconds at one thread per worker on a 2-core CPU, measured 2026-11-29; re-measure with --durations=0.
LONGEST_FIRST = ["03_finetune_gpt2", "04_forgetting", "08_reasoning_traces", "06_data_quality", "05_generalization",
                 "07_from_scratch_to_trl", "02_masked_mle_loss", "01_pretraining_vs_sft_data", "00_start_here"]


def _deal_rank(item):
    name = Path(str(item.fspath)).stem
    if name in LONGEST_FIRST:
        return LONGEST_FIRST.index(name)
    # A new notebook is dealt first (its time is unknown, so treat it as long); the unit tests, many short
    # modules, fill the gaps at the end.
    return -1 if item.fspath.ext == ".ipynb" else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config, items):
    # A stable sort: the cells of a notebook keep their order, which nbval runs them in.
    items.sort(key=_deal_rank)


# Kernels launched at the same moment can collide: one is then left that never answers, and nbval fails
# every cell of its notebook with "Kernel didn't respond in 60 seconds" (the same race is reported in
# jupyter/nbconvert#1066 and treebeardtech/nbmake#129). It happened once here, in CI, to the first
# notebook of a run, the one moment when both workers start a kernel together. So every worker but the
# first waits a few seconds before its first test; after that, notebooks end (and kernels start) apart.
STAGGER_SECONDS = 3
_first_test = True


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # tryfirst: before pytest's own setup, which starts the notebook's kernel.
    global _first_test
    if _first_test:
        _first_test = False
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        time.sleep(STAGGER_SECONDS * int(worker[2:] or 0))


# ---- the rejection rate of every exercise checker (tests/test_checker_banks.py), in the run's summary ----
_bank_lines: list[str] = []


def pytest_runtest_logreport(report):
    # Runs in the controller for every report, also under xdist (user_properties travel with the report);
    # this file, not tests/conftest.py, because the xdist controller collects nothing and reads only this one.
    if report.when == "call":
        _bank_lines.extend(value for name, value in report.user_properties if name == "checker_bank")


def pytest_terminal_summary(terminalreporter):
    if _bank_lines:
        terminalreporter.section("checker banks")
        for line in sorted(_bank_lines):
            terminalreporter.write_line(line)
