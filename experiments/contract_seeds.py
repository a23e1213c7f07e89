"""How much notebook 03's contract score moves between training runs: seeds and precision.

    python experiments/contract_seeds.py                      # seeds 0 1 2, float32 and bf16 autocast
    python experiments/contract_seeds.py --seeds 1 --precisions bf16   # one point, merged into the record
    python experiments/contract_seeds.py --tiny --out /tmp/x.json      # the same code at a toy size (a test)

Each point is notebook 03's main run, unchanged but for its seed (the batch order) and its precision:
the instruction mix of section 1 (2,800 contracts, 800 support and 800 QA examples), 540 steps of 8 at a
peak rate of 1e-3 (section 4), then the first 150 held-out contracts scored field by field with the
course's strict scorer (`scorers.contract_fields`: both parties, term, liability cap, governing law).
bf16 is autocast on the CPU, as `COURSE_CPU_BF16=1` runs it and as a GPU trains. The record,
experiments/results/contract_seeds.json, holds the settings, the versions, the machine, the time and
every number; a run of some points keeps the record's other points.
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
from datasets import concatenate_datasets  # noqa: E402

from experiments import record  # noqa: E402
from course_utils.data import load_sft  # noqa: E402
from course_utils.encode import encode_sft  # noqa: E402
from course_utils.env import seed_everything  # noqa: E402
from course_utils.evaluate import task_score  # noqa: E402
from course_utils.models import load_base  # noqa: E402
from course_utils.scorers import contract_fields  # noqa: E402
from course_utils.train import TrainConfig, train_sft  # noqa: E402

MIX = {"contracts": 2800, "support": 800, "qa": 800}      # notebook 03, section 1
RECIPE = dict(max_steps=540, batch_size=8, lr=1e-3)        # notebook 03, section 4
TEST_CONTRACTS = 150                                        # notebook 03, section 6
TINY = dict(mix={"contracts": 16, "support": 8, "qa": 8}, recipe=dict(max_steps=3, batch_size=4, lr=1e-3), test=4)
RECORD = ROOT / "experiments" / "results" / "contract_seeds.json"


def one_point(seed: int, precision: str, mix: dict, recipe: dict, n_test: int) -> dict:
    seed_everything(0)
    model, tok = load_base("gpt2-tiny", device="cpu")
    columns = ["id", "task", "prompt", "response"]
    rows = concatenate_datasets([load_sft(task, "train").select(range(n)).select_columns(columns)
                                 for task, n in mix.items()]).shuffle(seed=0)
    started = time.time()
    run = train_sft(model, encode_sft(rows, tok), TrainConfig(**recipe, seed=seed, precision=precision),
                    pad_token_id=tok.eos_token_id, device="cpu", progress=False)
    test = load_sft("contracts", "test").select(range(n_test)).to_list()
    replies = task_score(model, tok, test, max_new_tokens=56)["replies"]
    fields = [contract_fields(r, row) for r, row in zip(replies, test)]
    scores = {k: sum(f[k] for f in fields) / len(fields) for k in fields[0]}
    scores["all four"] = sum(all(f.values()) for f in fields) / len(fields)
    wrong_cap = next(((r, row["response"]) for r, row, f in zip(replies, test, fields) if not f["liability_cap"]),
                     None)
    return {"seed": seed, "precision": precision, "scores": scores, "final_train_loss": run.train_loss[-1],
            "seconds": round(time.time() - started, 1),
            "a_wrong_cap": None if wrong_cap is None else {"reply": wrong_cap[0], "truth": wrong_cap[1]}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--precisions", nargs="+", default=["float32", "bf16"], choices=["float32", "bf16"])
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a few steps and test contracts")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    mix, recipe, n_test = (TINY["mix"], TINY["recipe"], TINY["test"]) if args.tiny else (MIX, RECIPE, TEST_CONTRACTS)
    torch.set_num_threads(1)       # one point per core: run points side by side, not one on all cores
    if record.read(args.out).get("settings", {}).get("recipe", recipe) != recipe:
        raise SystemExit(f"{args.out} was recorded with another recipe; write to a new --out")
    for seed in args.seeds:
        for precision in args.precisions:
            point = one_point(seed, precision, mix, recipe, n_test)
            print(json.dumps({k: point[k] for k in ("seed", "precision", "scores", "seconds")}), flush=True)
            _write(args.out, point, mix, recipe, n_test)
    print(f"wrote {args.out}")


def _write(path: Path, point: dict, mix: dict, recipe: dict, n_test: int) -> None:
    with record.updating(path) as rec:
        rec["points"] = [p for p in rec["points"] if (p["seed"], p["precision"]) != (point["seed"], point["precision"])]
        rec["points"] = sorted(rec["points"] + [point], key=lambda p: (p["precision"], p["seed"]))
        rec.update(experiment="contract_seeds", settings={"mix": mix, "recipe": recipe, "test_contracts": n_test},
                   **record.provenance(threads_per_point=1))


if __name__ == "__main__":
    main()
