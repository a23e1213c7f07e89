"""How notebook 06's undesirable-reply rates move between training runs: taint share and filtering, 3 seeds.

    python experiments/taint_seeds.py                     # seeds 0 1 2, every setting (5 to 9 min a seed, 1 core)
    python experiments/taint_seeds.py --seeds 3           # one more seed, merged into the record
    python experiments/taint_seeds.py --tiny --out /tmp/x.json   # the same code at a toy size (a test)

Each seed runs notebook 06's pipeline, unchanged but for its seed (the batch order of training and the
random stream of sampling): support SFT (`data_quality.fine_tune_support`, 300 steps of 8) on the 4,000
support prompts with 0%, 5% and 15% undesirable replies (`tainted_support_set`, the same rows for every
seed), then 2 sampled replies at temperature 1 to each of 150 held-out customers, checked by
`scorers.undesirable_kinds` (which knows no wording of the training taint); and for 15%, the filter
(`data_quality.filter_support`: the e-mail rule, and the most surprising token under the reference model,
trained on 400 trusted policy replies, with its cut-off chosen on the labelled validation split) and a
fine-tune on what it keeps, measured the same way; the same filter scored by the tainted model itself is
recorded beside it (precision and recall only). The record,
experiments/results/taint_seeds.json, holds the settings, the versions, the machine, the time and every
number; a run of some seeds keeps the record's other seeds.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from experiments import record  # noqa: E402
from course_utils.data import load_sft  # noqa: E402
from course_utils.data_quality import (REFERENCE_RECIPE, SUPPORT_RECIPE, filter_support,  # noqa: E402
                                       fine_tune_support, precision_recall, reference_model, tainted_support_set,
                                       undesirable_rate)
from course_utils.env import seed_everything  # noqa: E402
from course_utils.generalization import sample_rows  # noqa: E402
from course_utils.models import load_base  # noqa: E402

SHARES = [0.0, 0.05, 0.15]       # notebook 06, section 1
FILTERED_SHARE = 0.15            # the set notebook 06 filters (section 2)
HELD_OUT, SAMPLES = 150, 2       # held-out customers, sampled replies to each
FULL = dict(rows=None, validation=None, reference=None, held_out=HELD_OUT, samples=SAMPLES, recipe=SUPPORT_RECIPE,
            reference_recipe=REFERENCE_RECIPE)
TINY = dict(rows=120, validation=60, reference=40, held_out=4, samples=1, recipe=dict(max_steps=2, batch_size=4, lr=2e-3),
            reference_recipe=dict(max_steps=2, batch_size=4, lr=2e-3))
RECORD = ROOT / "experiments" / "results" / "taint_seeds.json"


def setting_name(share: float, filtered: bool = False) -> str:
    return f"{share:.0%}" + (" filtered" if filtered else "")


def measure(model, tok, held_out, size, seed) -> dict:
    result = undesirable_rate(model, tok, held_out, samples=size["samples"], seed=seed)
    k = sum(bool(kinds) for kinds in result["kinds"])
    return {"rate": result["rate"], "bad_replies": k, "replies": len(result["kinds"]), "by_kind": result["by_kind"]}


def one_seed(seed: int, size: dict) -> tuple[list[dict], dict]:
    """Every setting at one seed: the points (one per setting) and the filter's record."""
    seed_everything(0)
    base, tok = load_base("gpt2-tiny", device="cpu")
    held_out = sample_rows("support", "test", size["held_out"])
    validation = load_sft("support_tainted", "validation").to_list()[: size["validation"]]
    points, filter_record = [], None
    recipe = dict(size["recipe"], precision="float32")     # the record says float32, whatever COURSE_CPU_BF16 says
    for share in SHARES:
        rows = tainted_support_set(share)[: size["rows"]]
        started = time.time()
        model, encoded = fine_tune_support(base, tok, rows, seed=seed, recipe=recipe, device="cpu")
        points.append(dict(seed=seed, setting=setting_name(share), **measure(model, tok, held_out, size, seed),
                           seconds=round(time.time() - started, 1)))
        if share != FILTERED_SHARE:
            continue
        started = time.time()
        bad = [bool(r["taint"]) for r in rows]
        filter_record = {"seed": seed}
        # Scored by the model fine-tuned on the tainted data itself (recorded only), then by the reference model
        # (the filter whose kept rows are trained on).
        scorers = {"self": model, "reference": reference_model(base, tok, seed=seed, n_rows=size["reference"], device="cpu",
                                                                recipe=dict(size["reference_recipe"], precision="float32"))}
        for scorer, scoring_model in scorers.items():
            f = filter_support(scoring_model, tok, rows, encoded, validation)
            filter_record[scorer] = {
                "cutoff": f["cutoff"], "validation_at_cutoff": f["validation_at_cutoff"],
                "train": {name: precision_recall(flags, bad) for name, flags in
                          (("rule", f["by_rule"]), ("loss", f["by_loss"]), ("rule or loss", f["flagged"]))},
                "kept": len(f["kept"]), "bad_left": sum(bool(r["taint"]) for r in f["kept"])}
        model, _ = fine_tune_support(base, tok, f["kept"], seed=seed, recipe=recipe, device="cpu")
        points.append(dict(seed=seed, setting=setting_name(share, filtered=True),
                           **measure(model, tok, held_out, size, seed), seconds=round(time.time() - started, 1)))
    return points, filter_record


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a few rows, steps and held-out customers")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    size = TINY if args.tiny else FULL
    torch.set_num_threads(1)       # one seed per core: run seeds side by side, not one on all cores
    if record.read(args.out).get("settings", {}).get("size", size) != size:
        raise SystemExit(f"{args.out} was recorded at another size; write to a new --out")
    for seed in args.seeds:
        points, filter_record = one_seed(seed, size)
        for point in points:
            print(json.dumps({k: point[k] for k in ("seed", "setting", "rate", "seconds")}), flush=True)
        _write(args.out, seed, points, filter_record, size)
    print(f"wrote {args.out}")


def _write(path: Path, seed: int, points: list[dict], filter_record: dict, size: dict) -> None:
    with record.updating(path, filters=[]) as rec:
        rec["points"] = sorted([p for p in rec["points"] if p["seed"] != seed] + points,
                               key=lambda p: (p["setting"], p["seed"]))
        rec["filters"] = sorted([f for f in rec["filters"] if f["seed"] != seed] + [filter_record],
                                key=lambda f: f["seed"])
        rec.update(experiment="taint_seeds",
                   settings={"size": size, "shares": SHARES, "filtered_share": FILTERED_SHARE,
                             "temperature": 1.0, "taint_rows_seed": 0,
                             "seed_sets": "the batch order of training and the sampling stream"},
                   **record.provenance(threads=1, precision="float32"))


if __name__ == "__main__":
    main()
