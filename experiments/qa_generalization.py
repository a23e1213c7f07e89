"""Notebook 05's sweeps, recorded: QA SFT by set size, by wording diversity and by base model, 3 seeds each.

    python experiments/qa_generalization.py                  # every part (about an hour on one CPU thread)
    python experiments/qa_generalization.py --parts polm     # one part, merged into the record
    python experiments/qa_generalization.py --tiny --out /tmp/x.json   # the same code at a toy size (a test)

Every point is notebook 05's QA run (`generalization.QA_RUN`: batches of 16, peak rate 1e-3) on a subset
of the QA training set drawn with the point's seed, which also seeds the batch order, then scored on the
notebook's fixed test rows. The parts:

- `size`: 150 to 6,000 examples, once at equal steps (80, whatever the size: the small sets are repeated,
  the large one is not read once) and once at equal epochs (2 passes: the steps grow with the size).
  Each point records its steps, examples seen and epochs.
- `wordings`: 900 examples asked in 1 or in all 6 training wordings per attribute (80 steps), scored
  wording by wording on questions about seen people, and on new people.
- `polm`: the whole training set on each base model (augmented, single biography, single biography with
  the full name in every sentence), scored on seen people and on held-out people (in pre-training, never
  in SFT); `stored` points hold each base model's fact-probe accuracy before SFT.
- `pretrain_seed`: one corpus pre-trained again with another seed (tools/pretrain.py's recipe, into a
  temporary folder, not shipped), then the `polm` runs on it: how much one pre-training run decides.

The record, experiments/results/qa_generalization.json, holds the settings, the versions, the machine,
the time and every number; a run of some parts keeps the record's other points.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from transformers import GPT2LMHeadModel, GPT2TokenizerFast  # noqa: E402

from experiments import record  # noqa: E402
from course_utils.env import data_dir, seed_everything  # noqa: E402
from course_utils.evaluate import fact_probe_accuracy, load_probes  # noqa: E402
from course_utils.generalization import (QA_RUN, in_biography_probes, qa_accuracy, qa_measures,  # noqa: E402
                                         qa_sft_run, qa_subset, size_config, within_task_tests, wording_tests)
from course_utils.models import load_base  # noqa: E402

PARTS = ("size", "wordings", "polm", "pretrain_seed")
BASES = {"gpt2-tiny": "augmented", "gpt2-tiny-single": "single", "gpt2-tiny-single-fullname": "single_fullname"}
FULL = dict(seeds=[0, 1, 2], sizes=[150, 300, 900, 2000, 6000], epochs=2.0, wordings=[1, 6], wording_examples=900,
            tests=300, per_wording=100, probes=None, run=dict(max_steps=QA_RUN.max_steps, batch_size=QA_RUN.batch_size,
                                                                lr=QA_RUN.lr),
            pretrain=dict(corpus="single_fullname", seed=1, steps=2400, batch_size=8, lr=2e-3))
TINY = dict(seeds=[0], sizes=[8, 16], epochs=1.0, wordings=[1, 6], wording_examples=12, tests=4, per_wording=2,
            probes=10, run=dict(max_steps=2, batch_size=4, lr=1e-3),
            pretrain=dict(corpus="single_fullname", seed=1, steps=3, batch_size=2, lr=2e-3))
RECORD = ROOT / "experiments" / "results" / "qa_generalization.json"


def stored_probes(corpus: str) -> list[dict]:
    """Fact probes of what a base model read: in its own biography for the single-biography corpora (the
    name once, or in every sentence), name-first sentences for the augmented one (notebook 05)."""
    if corpus == "augmented":
        return load_probes("person")
    return in_biography_probes(full_name=corpus == "single_fullname")


def size_points(model, tok, s: dict, tests: dict) -> list[dict]:
    points = []
    full = len(qa_subset())
    for schedule in ("steps", "epochs"):
        for n in s["sizes"]:
            for seed in s["seeds"]:
                rows = qa_subset(n if n < full else None, seed=seed)     # the whole set in its own order, as section 1
                config = size_config(schedule, s["epochs"], replace(QA_RUN, **s["run"]))
                started = time.time()
                tuned, run = qa_sft_run(model, tok, rows, config, seed=seed)
                scores = {name: qa_accuracy(tuned, tok, t) for name, t in tests.items()}
                points.append({"part": "size", "schedule": schedule, "n": len(rows), "seed": seed, "steps": run.steps,
                               "examples_seen": run.examples_seen, "epochs": round(run.examples_seen / len(rows), 3),
                               "scores": scores, "seconds": round(time.time() - started, 1)})
                _say(points[-1])
    return points


def wording_points(model, tok, s: dict, tests: dict) -> list[dict]:
    by_wording = wording_tests(s["per_wording"])
    points = []
    for k in s["wordings"]:
        for seed in s["seeds"]:
            rows = qa_subset(s["wording_examples"], phrasings=k, seed=seed)
            started = time.time()
            tuned, run = qa_sft_run(model, tok, rows, replace(QA_RUN, **s["run"]), seed=seed)
            points.append({"part": "wordings", "wordings": k, "seed": seed, "n": len(rows),
                           "trained_wordings": sorted({r["phrasing"] for r in rows}),
                           "per_wording": {str(w): qa_accuracy(tuned, tok, t) for w, t in by_wording.items()},
                           "new people": qa_accuracy(tuned, tok, tests["new people"]),
                           "steps": run.steps, "examples_seen": run.examples_seen,
                           "seconds": round(time.time() - started, 1)})
            _say(points[-1])
    return points


def base_points(name: str, corpus: str, model, tok, s: dict, tests: dict, **extra) -> list[dict]:
    """`stored` (fact probes before SFT) and one `polm` point per seed for one base model."""
    probes = stored_probes(corpus)[: s["probes"]]
    name_first = load_probes("person")[: s["probes"]]
    points = [{"part": "stored", "base": name, "corpus": corpus, **extra,
               "stored": fact_probe_accuracy(model, tok, probes)["accuracy"],
               "name_first_probes": fact_probe_accuracy(model, tok, name_first)["accuracy"]}]
    _say(points[-1])
    for seed in s["seeds"]:
        started = time.time()
        tuned, run = qa_sft_run(model, tok, qa_subset(), replace(QA_RUN, **s["run"]), seed=seed)
        seen = qa_measures(tuned, tok, tests["seen people, seen wording"])
        heldout = qa_measures(tuned, tok, tests["new people"])
        points.append({"part": "polm", "base": name, "corpus": corpus, "seed": seed, **extra,
                       "seen": {k: v for k, v in seen.items() if k != "replies"},
                       "heldout": {k: v for k, v in heldout.items() if k != "replies"},
                       "a_heldout_reply": {"prompt": tests["new people"][0]["prompt"], "reply": heldout["replies"][0]},
                       "steps": run.steps, "seconds": round(time.time() - started, 1)})
        _say(points[-1])
    return points


def polm_points(tok, s: dict, tests: dict) -> list[dict]:
    points = []
    for name, corpus in BASES.items():
        model, _ = load_base(name, device="cpu")
        points += base_points(name, corpus, model, tok, s, tests, pretrain_seed=0)
    return points


def pretrain_seed_points(tok, s: dict, tests: dict) -> list[dict]:
    """Pre-train `s['pretrain']['corpus']` again with another seed, into a folder deleted afterwards."""
    from tools.pretrain import pretrain_model    # a build tool: only this part needs it
    p = s["pretrain"]
    name = next(n for n, c in BASES.items() if c == p["corpus"])
    with tempfile.TemporaryDirectory() as folder:
        info = pretrain_model(p["corpus"], tok, Path(folder), steps=p["steps"], batch_size=p["batch_size"], lr=p["lr"],
                              seed=p["seed"], device="cpu")
        model = GPT2LMHeadModel.from_pretrained(folder).eval()
    points = base_points(f"{name}, pre-training seed {p['seed']}", p["corpus"], model, tok, s, tests,
                         pretrain_seed=p["seed"])
    points[0]["pretraining"] = {k: info[k] for k in ("steps", "epochs", "final_loss", "seconds")}
    return points


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a few steps, test rows and probes")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    s = TINY if args.tiny else FULL
    torch.set_num_threads(1)       # the machine's other core stays free; the times in the record are one thread's
    if record.read(args.out).get("settings", s) != s:
        raise SystemExit(f"{args.out} was recorded with other settings; write to a new --out")
    seed_everything(0)
    model, tok = load_base("gpt2-tiny", device="cpu")
    tests = within_task_tests(s["tests"])
    for part in args.parts:
        if part == "size":
            points = size_points(model, tok, s, tests)
        elif part == "wordings":
            points = wording_points(model, tok, s, tests)
        elif part == "polm":
            points = polm_points(tok, s, tests)
        else:
            points = pretrain_seed_points(GPT2TokenizerFast.from_pretrained(data_dir() / "models" / "tokenizer"), s, tests)
        _write(args.out, part, points, s)
    print(f"wrote {args.out}")


def _say(point: dict) -> None:
    print(json.dumps({k: v for k, v in point.items() if k not in ("a_heldout_reply",)}), flush=True)


def _write(path: Path, part: str, points: list[dict], settings: dict) -> None:
    """Replace the part's points in the record (a part's `stored` points go with it), keep the others."""
    mine = {"size": ("size",), "wordings": ("wordings",), "polm": ("polm", "stored"),
            "pretrain_seed": ("polm", "stored")}[part]
    seeds_of_part = {p.get("pretrain_seed") for p in points}
    with record.updating(path) as rec:
        keep = [p for p in rec["points"]
                if not (p["part"] in mine and (part in ("size", "wordings") or p.get("pretrain_seed") in seeds_of_part))]
        rec.update(experiment="qa_generalization", settings=settings, points=keep + points,
                   **record.provenance(threads=1))
        rec.setdefault("parts_written", {})[part] = rec["written"]


if __name__ == "__main__":
    main()
