"""SFT on facts the base model never read (issue 26; Gekhman et al. 2024, arXiv 2405.05904), over seeds.

    python experiments/unknown_facts.py                              # every setting, seeds 0 1 2
    python experiments/unknown_facts.py --seeds 1 --settings 50%      # some points, merged into the record
    python experiments/unknown_facts.py --tiny --out /tmp/x.json      # the same code at a toy size (a test)

Every point is one `unknown_facts.run`: QA SFT on 480 examples (`SFT_SIZE`), 300 steps of 16 at a peak
rate of 1e-3 (cosine, 5% warm-up: `UNKNOWN_RUN`), the same whatever the setting; a setting changes only
the unknown rows of the set:

- "0%", "25%", "50%": that share of the 480 examples asks about unknown people (no pre-training document
  mentions them) and answers with their generated facts; the rest asks about known people;
- "50% filtered", "25% filtered": that set with its unknown rows left out (240 or 360 known examples, the
  same 300 steps): the control that tells the harm of unknown rows from the loss of known ones;
- "50% abstention", "25% abstention": that set with every unknown row answered "I don't know ..." instead.

The seed draws the set (nested across shares) and the batch order. Each run is measured before training
and every 25 steps (the loss of known and of unknown training examples; the loss on known validation
questions), and at steps 25, 50, 100, ..., 300 by greedy replies: the fit of each kind of training
example, accuracy on questions about known people never in SFT (30 validation people, read by the early
stop, and 30 test people, two wordings per fact), and what the model says about 25 unknown people never
in SFT (made up / abstained / other).

The record, experiments/results/unknown_facts.json, holds the settings, the versions, the machine, the
time, every point's curve and a summary over seeds (`unknown_facts.summary`); a run of some points keeps
the record's other points, so points can run side by side in separate processes.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from enum import Enum
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from experiments import record  # noqa: E402
from course_utils.env import seed_everything  # noqa: E402
from course_utils.models import load_base  # noqa: E402
from course_utils.unknown_facts import (RECORD, REPLY_STEPS, SFT_SIZE, UNKNOWN_RUN, Yardsticks, run,  # noqa: E402
                                        summary)

# name -> (share of unknown rows, what they answer); the order is the order points run in
SETTINGS = {"0%": (0.0, "fact"), "50%": (0.5, "fact"), "50% abstention": (0.5, "abstention"),
            "50% filtered": (0.5, "filtered"), "25%": (0.25, "fact"), "25% filtered": (0.25, "filtered"),
            "25% abstention": (0.25, "abstention")}
FULL = dict(n=SFT_SIZE, run=dict(max_steps=UNKNOWN_RUN.max_steps, eval_every=UNKNOWN_RUN.eval_every),
            reply_steps=list(REPLY_STEPS),
            sticks=dict(n_validation_people=30, n_test_people=30, wordings=2, n_unknown_people=None, fit_sample=64))
TINY = dict(n=16, run=dict(max_steps=4, eval_every=2), reply_steps=[2],
            sticks=dict(n_validation_people=2, n_test_people=2, wordings=1, n_unknown_people=2, fit_sample=4))


def one_point(name: str, seed: int, model, tok, sticks: Yardsticks, size: dict) -> dict:
    share, answers = SETTINGS[name]
    seed_everything(0)
    point = run(model, tok, sticks, share, seed=seed, unknown_answers=answers, n=size["n"],
                reply_steps=tuple(size["reply_steps"]), **size["run"])
    return {"setting": name, **point}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a few steps, examples and questions")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    size = TINY if args.tiny else FULL
    torch.set_num_threads(1)       # one point per core: run points side by side, not one on all cores
    recipe = asdict(replace(UNKNOWN_RUN, **size["run"]))
    recipe = {k: v.value if isinstance(v, Enum) else v for k, v in recipe.items()}
    recorded = record.read(args.out).get("settings", {})
    if recorded.get("recipe", recipe) != recipe or recorded.get("size", size) != json.loads(json.dumps(size)):
        raise SystemExit(f"{args.out} was recorded with another recipe or size; write to a new --out")
    model, tok = load_base("gpt2-tiny", device="cpu")
    sticks = Yardsticks.build(**size["sticks"])
    for seed in args.seeds:              # seed-major: a stopped run still leaves every setting measured once
        for name in args.settings:
            point = one_point(name, seed, model, tok, sticks, size)
            final, early = point["final"], point["early_stop"]
            print(json.dumps({"setting": name, "seed": seed, "known test": final["known test"]["accuracy"],
                              "early stop": [early["step"], early["known test"]["accuracy"]],
                              "unknown test": final["unknown test"], "seconds": point["seconds"]}), flush=True)
            _write(args.out, point, recipe, size)
    print(f"wrote {args.out}")


def _key(p: dict) -> tuple:
    return list(SETTINGS).index(p["setting"]), p["seed"]


def _write(path: Path, point: dict, recipe: dict, size: dict) -> None:
    with record.updating(path) as rec:
        rec["points"] = sorted([p for p in rec["points"] if _key(p) != _key(point)] + [point], key=_key)
        rec.update(experiment="unknown_facts",
                   settings={"recipe": recipe, "size": size, "base_model": "gpt2-tiny",
                             "settings": {k: {"unknown_share": s, "unknown_answers": a} for k, (s, a) in SETTINGS.items()}},
                   summary=summary(rec["points"]), **record.provenance(threads_per_point=1))


if __name__ == "__main__":
    main()
