"""Where each way of limiting forgetting sits on the task-vs-knowledge plane (notebook 04), over seeds.

    python experiments/forgetting_frontier.py                        # every point, seeds 0 1 2 (99 core-minutes as recorded)
    python experiments/forgetting_frontier.py --seeds 1 --methods lora   # some points, merged into the record
    python experiments/forgetting_frontier.py --tiny --out /tmp/x.json    # the same code at a toy size (a test)

Each point is notebook 04's support run (`forgetting.support_sft_run`: all 4,000 support examples, 400
steps of 8, cosine schedule with 5% warm-up), changed in one setting, then measured with notebook 04's
yardsticks (300 person fact probes, half about the people replay may rehearse, read by completion and by
ranking; perplexity on the held-out text; 120 held-out support prompts):

- full fine-tuning, freezing all but the top 2 blocks, and LoRA at rank 4, each at three peak learning
  rates half a decade apart (LoRA's a decade higher, its usual best being about ten times full FT's);
- replay of the replayed half's biographies at three shares, full fine-tuning at 2e-3;
- fewer steps at 2e-3 as runs of their own (100 and 200 steps, each with its whole schedule), not as
  checkpoints of the 400-step run.

The seed sets the batch order (and the replay draw). The record, experiments/results/forgetting_frontier.json,
holds the settings, the versions, the machine, the time and every number; a run of some points keeps the
record's other points, so points can run side by side in separate processes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from enum import Enum
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from experiments import record  # noqa: E402
from course_utils.env import seed_everything  # noqa: E402
from course_utils.forgetting import SUPPORT_RUN, Yardsticks, measure, support_sft_run  # noqa: E402
from course_utils.models import load_base  # noqa: E402

# method -> (the setting it changes, the values it takes); every other setting is SUPPORT_RUN's.
GRID = {
    "full": ("lr", [2e-4, 6e-4, 2e-3]),
    "top 2 blocks": ("lr", [6e-4, 2e-3, 6e-3]),
    "LoRA r=4": ("lr", [2e-3, 6e-3, 2e-2]),
    "replay": ("replay_share", [0.05, 0.15, 0.3]),
    "fewer steps": ("max_steps", [100, 200]),
}
METHOD_SETTING = {"full": {}, "top 2 blocks": {"trainable_blocks": 2}, "LoRA r=4": {"lora_rank": 4},
                  "replay": {}, "fewer steps": {}}
STICKS = dict(n_probes=300, n_support=120)
LIVE_REPLAY_SHARE = 0.15                                  # the replay point notebook 04 re-runs live
TINY = dict(grid={m: (k, v[-1:]) for m, (k, v) in GRID.items()}, sticks=dict(n_probes=4, n_support=2), max_steps=2)
RECORD = ROOT / "experiments" / "results" / "forgetting_frontier.json"


def one_point(method: str, value, seed: int, sticks: Yardsticks, max_steps: int | None) -> dict:
    seed_everything(0)
    model, tok = load_base("gpt2-tiny", device="cpu")
    knob, _ = GRID[method]
    settings = dict(METHOD_SETTING[method], seed=seed, **{knob: value})
    if max_steps is not None:                         # the toy size: a few steps whatever the method
        settings["max_steps"] = min(settings.get("max_steps", max_steps), max_steps)
    started = time.time()
    result = support_sft_run(model, tok, sticks, **settings)
    return {"method": method, knob: value, "value": value, "seed": seed, **result.as_dict(),
            "trainable": result.extra["trainable"], "final_train_loss": result.extra["run"].train_loss[-1],
            "seconds": round(time.time() - started, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(GRID), choices=list(GRID))
    parser.add_argument("--base", action="store_true", help="also measure the base model (no fine-tuning)")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a few steps, probes and prompts")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    grid, sticks_size, max_steps = ((TINY["grid"], TINY["sticks"], TINY["max_steps"]) if args.tiny
                                    else (GRID, STICKS, None))
    torch.set_num_threads(1)       # one point per core: run points side by side, not one on all cores
    recipe = asdict(SUPPORT_RUN) | ({"max_steps": max_steps} if max_steps else {})
    recipe = {k: v.value if isinstance(v, Enum) else v for k, v in recipe.items()}
    recorded = record.read(args.out).get("settings", {})
    if recorded.get("recipe", recipe) != recipe or recorded.get("yardsticks", sticks_size) != sticks_size:
        raise SystemExit(f"{args.out} was recorded with another recipe or other yardsticks; write to a new --out")
    sticks = Yardsticks.build(**sticks_size)
    if args.base:
        seed_everything(0)
        model, tok = load_base("gpt2-tiny", device="cpu")
        _write(args.out, {"method": "base", "value": None, "seed": None, **measure(model, tok, sticks).as_dict()},
               grid, recipe, sticks_size)
    for seed in args.seeds:              # seed-major: a stopped run still leaves every method measured once
        for method in args.methods:
            for value in grid[method][1]:
                point = one_point(method, value, seed, sticks, max_steps)
                print(json.dumps({k: point[k] for k in ("method", "value", "seed", "facts", "choice", "support",
                                                        "seconds")}), flush=True)
                _write(args.out, point, grid, recipe, sticks_size)
    print(f"wrote {args.out}")


def _key(p: dict) -> tuple:
    return p["method"], str(p["value"]), str(p["seed"])


def _write(path: Path, point: dict, grid: dict, recipe: dict, sticks: dict) -> None:
    with record.updating(path) as rec:
        rec["points"] = sorted([p for p in rec["points"] if _key(p) != _key(point)] + [point], key=_key)
        rec.update(experiment="forgetting_frontier",
                   settings={"recipe": recipe, "grid": {m: {"knob": k, "values": v} for m, (k, v) in grid.items()},
                             "method_settings": METHOD_SETTING, "yardsticks": sticks, "base_model": "gpt2-tiny"},
                   **record.provenance(threads_per_point=1, COURSE_CPU_BF16=os.environ.get("COURSE_CPU_BF16", "")))


if __name__ == "__main__":
    main()
