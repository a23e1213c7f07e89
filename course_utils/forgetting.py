"""Measuring what SFT costs (notebook 04): general knowledge vs the task, for one fine-tuning setting.

General knowledge is read three ways: the completion probe (does greedy decoding still complete "X was
born in the city of" right?), the multiple-choice probe (is the true value still the most likely of every
value the attribute takes? It does not depend on what the model chooses to write, so it tells knowledge
lost from a model that now answers in another format), and perplexity on held-out world text. The task is
the share of held-out support prompts answered per policy.

The world's people are split in two halves: replay (`replay_pool(..., people=replayed_people())`) may
rehearse the biographies of the first half only, and every measure is also reported per half, so what
replay protects beyond what it rehearses is measured, not assumed. `support_sft_run` fine-tunes a fresh
copy of a base model on support logs with one setting (learning rate, steps, replay share, frozen
layers, LoRA rank) and measures it, so settings can be compared at the same budget.
"""
from __future__ import annotations

import copy
import functools
import json
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .adapters import add_lora, freeze_all_but_top
from .data import load_eval, load_sft, load_world
from .encode import encode_sft
from .env import REPO_ROOT
from .evaluate import choice_accuracy, fact_probe_accuracy, load_probes, perplexity, task_score
from .replay import mix_with_replay, replay_pool
from .train import TrainConfig, train_sft

SUPPORT_RUN = TrainConfig(max_steps=400, batch_size=8, lr=2e-3)    # plain support SFT, notebook 04's budget
HALVES = ("replayed half", "other half")
FRONTIER_RECORD = REPO_ROOT / "experiments" / "results" / "forgetting_frontier.json"


@functools.cache
def replayed_people() -> frozenset[str]:
    """Every other person of the world (rows 0, 2, 4, ... of people.jsonl): the half whose biographies
    replay may draw. The other half is never rehearsed."""
    return frozenset(p["name"] for p in load_world("people")[::2])


@functools.cache
def _names_a_replayed_person() -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(replayed_people()))) + r")\b")


def half_of(text: str) -> str:
    """Which half of the world a probe subject or a document is about (place documents: the other half,
    as replay never draws them)."""
    return HALVES[0] if _names_a_replayed_person().search(text) else HALVES[1]


@dataclass
class Yardsticks:
    """The fixed evaluation sets: person fact probes (half about each half of the world), the held-out
    text, held-out support prompts."""
    probes: list
    texts: list
    support: list

    @classmethod
    def build(cls, n_probes: int = 300, n_support: int = 120, seed: int = 0) -> "Yardsticks":
        if n_probes < 2:
            raise ValueError(f"n_probes={n_probes}: at least one probe about each half of the world")
        rng, replayed = random.Random(seed), replayed_people()
        people = load_probes("person")
        ours = [p for p in people if p["subject"] in replayed]
        others = [p for p in people if p["subject"] not in replayed]
        probes = rng.sample(ours, n_probes // 2) + rng.sample(others, n_probes - n_probes // 2)
        texts = [r["text"] for r in load_eval("heldout_text")]
        return cls(probes, texts, load_sft("support", "test").select(range(n_support)).to_list())


@dataclass
class Measurement:
    facts: float                 # completion probe, every probe
    choice: float                # multiple-choice probe, every probe
    perplexity: float
    support: float
    halves: dict = field(default_factory=dict)    # per half of the world: facts, choice, perplexity
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"facts": self.facts, "choice": self.choice, "perplexity": self.perplexity,
                "support": self.support, "halves": self.halves}


def _share(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def measure(model, tokenizer, sticks: Yardsticks) -> Measurement:
    completion = fact_probe_accuracy(model, tokenizer, sticks.probes)["correct"]
    chosen = choice_accuracy(model, tokenizer, sticks.probes)["correct"]
    halves = {}
    for half in HALVES:
        mine = [half_of(p["subject"]) == half for p in sticks.probes]
        texts = [t for t in sticks.texts if half_of(t) == half]
        halves[half] = {"facts": _share([h for h, m in zip(completion, mine) if m]),
                        "choice": _share([h for h, m in zip(chosen, mine) if m]),
                        "perplexity": perplexity(model, tokenizer, texts) if texts else None}
    return Measurement(_share(completion), _share(chosen), perplexity(model, tokenizer, sticks.texts),
                       task_score(model, tokenizer, sticks.support)["score"], halves)


def support_sft_run(base_model, tokenizer, sticks: Yardsticks, config: TrainConfig = SUPPORT_RUN, *,
                    replay_share: float = 0.0, mixer=mix_with_replay, trainable_blocks: int | None = None,
                    lora_rank: int | None = None, progress: bool = False, **settings) -> Measurement:
    """Fine-tune a copy of `base_model` on support logs with one setting and measure it.

    `config` (or any of its fields as a keyword, e.g. `lr=5e-4`) is the training run; `mixer(sft, pool,
    share, seed)` mixes in replay of the replayed half's documents (the notebook passes the student's
    own); `trainable_blocks` freezes the rest; `lora_rank` trains LoRA adapters of that rank instead of
    the weights (`adapters.add_lora`). With `eval_every`, every measure is also recorded along the run. The result's `extra` holds the
    run, the trained model and its trainable parameter count.
    """
    if trainable_blocks is not None and lora_rank is not None:
        raise ValueError("pass trainable_blocks or lora_rank, not both")
    config = replace(config, **settings)
    model = copy.deepcopy(base_model)
    sft = encode_sft(load_sft("support", "train"), tokenizer).select_columns(["input_ids", "response_mask"]).to_list()
    data = mixer(sft, replay_pool(tokenizer, people=replayed_people()), replay_share, config.seed) if replay_share else sft
    if trainable_blocks is not None:
        freeze_all_but_top(model, trainable_blocks)
    if lora_rank is not None:
        model, _ = add_lora(model, lora_rank)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    run = train_sft(model, data, config, pad_token_id=tokenizer.eos_token_id, progress=progress,
                    eval_fn=(lambda m: measure(m, tokenizer, sticks).as_dict()) if config.eval_every else None)
    last = run.evals[-1] if config.eval_every else None
    result = Measurement(**{k: v for k, v in last.items() if k != "step"}) if last else measure(model, tokenizer, sticks)
    result.extra = {"run": run, "model": model, "trainable": trainable}
    return result


@dataclass(frozen=True)
class Spread:
    """One measure of one setting over training seeds."""
    mean: float
    low: float
    high: float
    n: int

    def __format__(self, spec: str) -> str:          # f"{s:>22.1%}" -> "89.7% [88.0-91.3%]", right-aligned in 22
        parts = re.fullmatch(r"([<>^]?)(\d*)(\.\d+)?([%f]?)", spec or "")
        if parts is None:
            raise ValueError(f"format spec {spec!r}: use alignment, width, precision and % or f, e.g. '>20.1%'")
        align, width, precision, kind = parts.groups()
        scale, unit = (100, "%") if kind == "%" else (1, "")
        number = f"{{:{precision or '.3'}f}}"
        text = (f"{number.format(self.mean * scale)}{unit} "
                f"[{number.format(self.low * scale)}-{number.format(self.high * scale)}{unit}]")
        return format(text, f"{align}{width}")

    def overlaps(self, other: "Spread") -> bool:
        return self.low <= other.high and other.low <= self.high

    def versus(self, other: "Spread") -> str:
        """'higher' or 'lower' only where the ranges over seeds do not overlap (three seeds or more each)."""
        if min(self.n, other.n) < 3:
            raise ValueError(f"{self.n} and {other.n} seeds: a verdict needs at least 3 on each side")
        if self.overlaps(other):
            return "not distinguishable"
        return "higher" if self.mean > other.mean else "lower"


def load_frontier(path: str | Path = FRONTIER_RECORD) -> tuple[dict, dict]:
    """The recorded frontier (experiments/forgetting_frontier.py): the record itself, and its points
    grouped by (method, value), each a list over seeds."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no recorded frontier; run python experiments/forgetting_frontier.py")
    record = json.loads(path.read_text())
    groups: dict[tuple, list] = {}
    for point in record["points"]:
        groups.setdefault((point["method"], point["value"]), []).append(point)
    return record, groups


def spread(points: list[dict], measure_name: str, half: str | None = None) -> Spread:
    """Mean, lowest and highest of one measure over a setting's seeds; `half` reads it for one half."""
    values = [(p["halves"][half] if half else p)[measure_name] for p in points]
    if not values or any(v is None for v in values):
        raise ValueError(f"{measure_name!r} is missing from some of the {len(values)} points")
    low, high = min(values), max(values)
    mean = min(max(sum(values) / len(values), low), high)     # equal values: no rounding outside the range
    return Spread(mean, low, high, len(values))


SETTING_LABEL = {"lr": "lr {:.0e}", "replay_share": "replay {:.0%}", "max_steps": "{} steps"}


def settings_by_name(half: str | None = HALVES[1], path: str | Path = FRONTIER_RECORD) -> tuple[dict, float]:
    """The recorded frontier as notebook 04's exercise reads it: `"method, setting"` (e.g. "full, lr 6e-04")
    -> one {"seed", "facts", "support"} per training seed, in the grid's order, with the completion probe
    read on `half` of the world (the half replay never rehearsed, by default; None: every probe); and the
    base model's fact accuracy on the same probes."""
    record, groups = load_frontier(path)
    def facts(p):
        return p["halves"][half]["facts"] if half else p["facts"]
    settings = {}
    for method, axis in record["settings"]["grid"].items():
        for value in axis["values"]:
            name = f"{method}, {SETTING_LABEL[axis['knob']].format(value)}"
            settings[name] = [{"seed": p["seed"], "facts": facts(p), "support": p["support"]}
                              for p in groups[(method, value)]]
    return settings, facts(groups[("base", None)][0])
