"""Answer-only vs trace SFT on questions that need stored facts, and a self-generated round (issue 27,
notebook 08), one kind of question at a time, over seeds.

    python experiments/reasoning_traces.py                                   # every kind and setting, seeds 0 1 2
    python experiments/reasoning_traces.py --kinds even_year --seeds 1       # some points, merged into the record
    python experiments/reasoning_traces.py --tiny --out /tmp/x.json          # the same code at a toy size (a test)

Every point fine-tunes a fresh copy of `gpt2-tiny` on one kind's training questions (`data/sft/reasoning`),
with the same steps, rate, batch and replay share whatever the setting; a setting changes only what the
response teaches (`reasoning.RESPONSES`): the answer alone, the trace with the loss on all of it, the trace
with the loss on its final answer only, or ("self") the traces this seed's trace model wrote for the
training questions, kept when the verifier accepts their final answer. Scored on held-out people (`test`),
new pairs of training people (`test_pairs`, comparisons) and 40 training questions (their fit); each trace
setting also on the true facts written for it (the answer step alone); with the fact probes of the
held-out people after SFT (the ceiling). The inverse lookup runs "answer" and "trace" only: its facts name
the answer, so it has no answer step to isolate, and its trace model fits no held-out question to sample.

One kind per model follows the paper's set-up and the pilot (experiments/reasoning_traces_PILOT.md): with
every kind in one set, the answer step was not learned in 3,000 steps even on training questions.

The record, experiments/results/reasoning_traces.json, holds the settings, the versions, the machine,
the time and every point; a run of some points keeps the record's other points.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from experiments import record  # noqa: E402
from course_utils.data import REASONING_KINDS, load_reasoning  # noqa: E402
from course_utils.env import seed_everything  # noqa: E402
from course_utils.models import load_base  # noqa: E402
from course_utils.reasoning import REASONING_RUN, REPLAY_SHARE, keep_verified, run, sample_traces  # noqa: E402

RECORD = ROOT / "experiments" / "results" / "reasoning_traces.json"
SETTINGS = ("answer", "trace", "trace_prompt", "self", "trace_quarter", "self_quarter")
# "trace_quarter": trace SFT on the first quarter of the training questions only (a weaker start, as when gold
# traces are scarce); "self_quarter": that model samples traces for *every* training question, the verifier
# keeps the accepted ones, and a fresh copy trains on them: the self-generated round from a weaker start.
PAIR_KINDS = ("compare_year", "same_city")


def settings_of(kind: str) -> tuple[str, ...]:
    return ("answer", "trace") if kind == "inverse" else SETTINGS


# Half the examples replayed keep the held-out people's facts retrievable one kind at a time (10% and 25% did
# not: the pilot, experiments/reasoning_traces_PILOT.md).
FULL = dict(run=dict(max_steps=REASONING_RUN.max_steps, lr=REASONING_RUN.lr, batch_size=REASONING_RUN.batch_size),
            replay_share=REPLAY_SHARE, per_kind=None, fit=40,
            samples=dict(k=4, temperature=1.0))
# TINY: enough steps that the trace model fits its four questions, so the verifier has samples to keep.
TINY = dict(run=dict(max_steps=40, lr=5e-3, batch_size=4), replay_share=0.25, per_kind=8, fit=2,
            samples=dict(k=4, temperature=1.0))


def _first(rows: list[dict], n: int | None) -> list[dict]:
    return rows if n is None else rows[:n]


def sets(size: dict, response: str, kind: str) -> tuple[list[dict], dict[str, list[dict]]]:
    """One kind's training questions and its evaluation sets: held-out people, new pairs (comparisons only)
    and the first `fit` training questions."""
    taught = "answer" if response == "answer" else "trace"
    train = _first(load_reasoning("train", kind, response=taught), size["per_kind"])
    evals = {s: _first(load_reasoning(s, kind, response=taught), size["per_kind"])
             for s in ("test", "test_pairs") if s == "test" or kind in PAIR_KINDS}
    evals["train_fit"] = _first(train, size["fit"])
    return train, evals


def one_point(kind: str, setting: str, seed: int, model, tok, size: dict):
    """The point and the fine-tuned model (the sampler of the self-generated round)."""
    train, evals = sets(size, setting, kind)
    if setting == "trace_quarter":
        train = train[: len(train) // 4]
    seed_everything(0)
    response = "trace" if setting == "trace_quarter" else setting
    point = run(model, tok, response, train, evals, seed=seed, replay_share=size["replay_share"], **size["run"])
    trained = point.pop("model")
    return {"kind": kind, "setting": setting, "n_train": len(train), **point}, trained


def self_point(kind: str, seed: int, model, tok, size: dict, sampler, setting: str = "self") -> dict:
    """The self-generated round (STaR / rejection sampling): `sampler`, this seed's trace-tuned model, writes
    `k` traces for every training question; the verifier keeps those whose final answer is right; a fresh
    copy of the base model is fine-tuned on the kept traces with the same recipe."""
    train, evals = sets(size, "self", kind)
    samples = sample_traces(sampler, tok, train, seed=seed, **size["samples"])
    kept, filtered = keep_verified(train, samples)
    if not kept:
        raise RuntimeError(f"{kind}, seed {seed}: the verifier kept none of {filtered['samples']} sampled traces")
    seed_everything(0)
    point = run(model, tok, "self", kept, evals, seed=seed, replay_share=size["replay_share"], **size["run"])
    point.pop("model")
    return {"kind": kind, "setting": setting, "n_train": len(kept), "questions": len(train), "filter": filtered,
            "kept_examples": [[r["prompt"], r["response"]] for r in kept[:4]], **point}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kinds", nargs="+", default=list(REASONING_KINDS), choices=list(REASONING_KINDS))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a few steps, examples and questions")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    size = TINY if args.tiny else FULL
    torch.set_num_threads(1)       # one point per core: run points side by side, not one on all cores
    recorded = record.read(args.out).get("settings", {})
    if recorded.get("size", size) != json.loads(json.dumps(size)):
        raise SystemExit(f"{args.out} was recorded with another recipe or size; write to a new --out")
    model, tok = load_base("gpt2-tiny", device="cpu")
    for seed in args.seeds:              # seed-major: a stopped run still leaves every setting measured once
        for kind in args.kinds:
            samplers = {}         # "self" samples from this seed's trace model, "self_quarter" from trace_quarter's
            for setting in [s for s in args.settings if s in settings_of(kind)]:
                if setting.startswith("self"):     # train the sampler here unless it just ran
                    source = setting.replace("self", "trace")
                    if source not in samplers:
                        _, samplers[source] = one_point(kind, source, seed, model, tok, size)
                    point = self_point(kind, seed, model, tok, size, samplers[source], setting)
                else:
                    point, trained = one_point(kind, setting, seed, model, tok, size)
                    if setting.startswith("trace") and setting != "trace_prompt":
                        samplers[setting] = trained
                print(json.dumps({"kind": kind, "setting": setting, "seed": seed, "seconds": point["seconds"],
                                  "test": point["sets"]["test"][kind]["accuracy"]}), flush=True)
                _write(args.out, point, size)
    print(f"wrote {args.out}")


def _key(p: dict) -> tuple:
    return list(REASONING_KINDS).index(p["kind"]), list(SETTINGS).index(p["setting"]), p["seed"]


def _write(path: Path, point: dict, size: dict) -> None:
    with record.updating(path) as rec:
        rec["points"] = sorted([p for p in rec.get("points", []) if _key(p) != _key(point)] + [point], key=_key)
        rec.update(experiment="reasoning_traces",
                   settings={"size": size, "base_model": "gpt2-tiny", "settings": list(SETTINGS),
                             "kinds": list(REASONING_KINDS)},
                   **record.provenance(threads_per_point=1))


if __name__ == "__main__":
    main()
