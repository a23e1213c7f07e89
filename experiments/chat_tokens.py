"""Notebook 07's chat tokens: each pitfall of a chat format with tokens of its own, over 3 seeds.

    python experiments/chat_tokens.py --part lora_lr      # LoRA's learning rate on the course template first
    python experiments/chat_tokens.py --part settings     # then every setting at that rate (seeds 0 1 2)
    python experiments/chat_tokens.py --part full_lr      # both templates, full fine-tuning at two more rates
    python experiments/chat_tokens.py --part settings --seeds 1   # one seed, merged into the record
    python experiments/chat_tokens.py --tiny --out /tmp/x.json    # every part at a toy size (a test)

Each point fine-tunes gpt2-tiny on the same QA rows with the same steps, batch and evaluation
(`chat_tokens.RECIPE`, `SIZE`), in one of `chat_tokens.SETTINGS`, then replies greedily to 200 held-out
question wordings and records the QA score, the share of replies that stop (an end token within
`MAX_NEW_TOKENS`), the final training loss, how far the new tokens' embedding rows moved (input and
output side) and the seconds. The LoRA settings train at the rate that scored best on the course template
in the `lora_lr` part (read from the record). On every "chat tokens" model it also records the template
mismatch (the same model prompted through the course's plain-text template) and decoding: greedy, and
sampling at each of `DECODING`'s settings with sampling seeds 0-2. The `full_lr` part fine-tunes both
templates in full at the rates of `full_lrs` too, so each can be compared at its best rate. The seed sets
the batch order (and the sampling stream); the new rows are initialised the same way in every run. The record,
experiments/results/chat_tokens.json, holds the settings, the versions, the machine, the time and every
number; a run of some seeds keeps the record's other points.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from experiments import record  # noqa: E402
from course_utils import chat_tokens as ct  # noqa: E402
from course_utils.env import seed_everything  # noqa: E402
from course_utils.models import load_base  # noqa: E402

RECORD = ROOT / "experiments" / "results" / "chat_tokens.json"
FULL = dict(recipe=ct.RECIPE, size=ct.SIZE, lora_lrs=list(ct.LORA_LRS), sampling_seeds=[0, 1, 2],
            full_lrs=[3e-4, 3e-3])
TINY = dict(recipe=dict(max_steps=3, batch_size=4, lr=1e-3), size=dict(train=12, test=4), lora_lrs=[1e-3, 1e-2],
            sampling_seeds=[0], full_lrs=[3e-3])
FULL_LR_SETTINGS = ("course template", "chat tokens")


def measured(replies: dict) -> dict:
    return {"score": replies["score"], "stop_share": replies["stop_share"]}


def measured_fully(replies: dict) -> dict:
    """What a settings point measures: the score, the value-only and first-sentence scores, the stop share
    and which token stopped the replies (`chat_tokens.chat_replies`)."""
    return {k: replies[k] for k in ("score", "value_score", "first_sentence_score", "stop_share", "stopped_by")}


def lora_lr_point(seed: int, lr: float, config: dict) -> dict:
    model, tok = _base()
    train, test = ct.qa_sets(config["size"])
    tuned, tok, info = ct.train_setting("LoRA, course template", seed, train, model, tok, config["recipe"], lora_lr=lr)
    return {"part": "lora_lr", "setting": "LoRA, course template", "seed": seed, "lr": lr,
            **measured(ct.chat_replies(tuned, tok, test)), **info}


def full_lr_point(setting: str, seed: int, lr: float, config: dict) -> dict:
    model, tok = _base()
    train, test = ct.qa_sets(config["size"])
    tuned, chat_tok, info = ct.train_setting(setting, seed, train, model, tok, {**config["recipe"], "lr": lr})
    return {"part": "full_lr", "setting": setting, "seed": seed, "lr": lr,
            **measured(ct.chat_replies(tuned, chat_tok, test)), **info}


def setting_point(setting: str, seed: int, lora_lr: float, config: dict) -> dict:
    model, tok = _base()
    train, test = ct.qa_sets(config["size"])
    lora = setting.startswith("LoRA")
    tuned, chat_tok, info = ct.train_setting(setting, seed, train, model, tok, config["recipe"], lora_lr=lora_lr)
    greedy = ct.chat_replies(tuned, chat_tok, test)
    point = {"part": "settings", "setting": setting, "seed": seed,
             "lr": lora_lr if lora else config["recipe"]["lr"], **measured_fully(greedy), **info,
             "a_reply": {"question": test[0]["prompt"], "reply": greedy["replies"][0]}}
    if setting == "chat tokens":
        point["mismatch"] = measured_fully(ct.chat_replies(tuned, chat_tok, test, template="course"))
        point["decoding"] = {name: [{"sampling_seed": s, **measured_fully(ct.chat_replies(tuned, chat_tok, test,
                                                                                    decoding=options, seed=s))}
                                    for s in config["sampling_seeds"]]
                             for name, options in ct.DECODING.items() if options}
    return point


def _base():
    seed_everything(0)
    return load_base("gpt2-tiny", device="cpu")


def best_lora_lr(rec: dict) -> float:
    """The LoRA rate with the best mean score on the course template over the recorded seeds."""
    by_lr: dict[float, list[float]] = {}
    for p in rec["points"]:
        if p["part"] == "lora_lr":
            by_lr.setdefault(p["lr"], []).append(p["score"])
    if not by_lr:
        raise SystemExit("no LoRA learning-rate points in the record: run --part lora_lr first")
    return max(by_lr, key=lambda lr: statistics.mean(by_lr[lr]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["lora_lr", "settings", "full_lr", "all"], default="all")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--settings", nargs="+", default=list(ct.SETTINGS), choices=list(ct.SETTINGS))
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a few rows, steps and questions")
    parser.add_argument("--out", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    config = TINY if args.tiny else FULL
    torch.set_num_threads(1)       # one process per core: run seeds side by side, not one on all cores
    if record.read(args.out).get("settings", {}).get("config", config) != json.loads(json.dumps(config)):
        raise SystemExit(f"{args.out} was recorded with another configuration; write to a new --out")
    if args.part in ("lora_lr", "all"):
        for seed in args.seeds:
            for lr in config["lora_lrs"]:
                _write(args.out, lora_lr_point(seed, lr, config), config)
    if args.part in ("settings", "all"):
        lora_lr = best_lora_lr(record.read(args.out))
        for seed in args.seeds:
            for setting in args.settings:
                _write(args.out, setting_point(setting, seed, lora_lr, config), config)
    if args.part in ("full_lr", "all"):
        for seed in args.seeds:
            for setting in FULL_LR_SETTINGS:
                for lr in config["full_lrs"]:
                    _write(args.out, full_lr_point(setting, seed, lr, config), config)
    print(f"wrote {args.out}")


def _key(p: dict) -> tuple:
    return p["part"], p["setting"], p["lr"], p["seed"]


def _write(path: Path, point: dict, config: dict) -> None:
    print(json.dumps({k: point.get(k) for k in ("part", "setting", "seed", "lr", "score", "stop_share", "seconds")}),
          flush=True)
    with record.updating(path) as rec:
        rec["points"] = sorted([p for p in rec["points"] if _key(p) != _key(point)] + [point], key=_key)
        rec.update(experiment="chat_tokens",
                   settings={"config": config, "settings": list(ct.SETTINGS), "lora_rank": ct.LORA_RANK,
                             "max_new_tokens": ct.MAX_NEW_TOKENS, "decoding": ct.DECODING,
                             "test_split": "qa test_phrasings (generalization.sample_rows, seed 0)",
                             "new_rows": "resize_token_embeddings(mean_resizing=True), drawn with torch seed 0; "
                                         f"{ct.RANDOM_INIT!r}: mean_resizing=False (GPT-2's _init_weights, "
                                         "normal with std initializer_range 0.02), drawn with torch seed 0",
                             "seed_sets": "the batch order of training and the sampling stream"},
                   **record.provenance(threads=1, precision="float32"))


if __name__ == "__main__":
    main()
