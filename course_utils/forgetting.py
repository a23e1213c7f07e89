"""Measuring what SFT costs (notebook 04): general knowledge vs the task, for one fine-tuning setting.

General knowledge = fact-probe accuracy (does the model still complete "X was born in" right?) and
perplexity on held-out world text; the task = the share of held-out support prompts answered per
policy. `support_sft_run` fine-tunes a fresh copy of a base model on support logs with one setting
(learning rate, steps, replay share, frozen layers) and measures all three, so settings can be
compared at the same budget.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

from .data import load_eval, load_sft
from .encode import encode_sft
from .evaluate import fact_probe_accuracy, load_probes, perplexity, task_score
from .replay import mix_with_replay, replay_pool
from .train import train_sft

DEFAULTS = {"lr": 2e-3, "steps": 400, "batch_size": 8}   # plain support SFT, notebook 04's budget


@dataclass
class Yardsticks:
    """The fixed evaluation sets: a probe sample, the held-out text, held-out support prompts."""
    probes: list
    texts: list
    support: list

    @classmethod
    def build(cls, n_probes: int = 300, n_support: int = 120, seed: int = 0) -> "Yardsticks":
        probes = random.Random(seed).sample(load_probes(), n_probes)
        texts = [r["text"] for r in load_eval("heldout_text")]
        return cls(probes, texts, load_sft("support", "test").select(range(n_support)).to_list())


@dataclass
class Measurement:
    facts: float
    perplexity: float
    support: float
    extra: dict = field(default_factory=dict)


def measure(model, tokenizer, sticks: Yardsticks) -> Measurement:
    return Measurement(fact_probe_accuracy(model, tokenizer, sticks.probes)["accuracy"],
                       perplexity(model, tokenizer, sticks.texts),
                       task_score(model, tokenizer, sticks.support)["score"])


def freeze_all_but_top(model, trainable_blocks: int) -> int:
    """Freeze embeddings and every transformer block except the top `trainable_blocks`; return the
    number of parameters left trainable. (GPT-2 ties the output layer to the token embeddings, so
    they stay frozen too.)"""
    n_layer = model.config.n_layer
    if not 0 < trainable_blocks <= n_layer:
        raise ValueError(f"trainable_blocks must be in 1..{n_layer}, got {trainable_blocks}")
    top = {f"transformer.h.{i}." for i in range(n_layer - trainable_blocks, n_layer)}
    for name, p in model.named_parameters():
        p.requires_grad = any(name.startswith(t) for t in top) or name.startswith("transformer.ln_f")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def support_sft_run(base_model, tokenizer, sticks: Yardsticks, *, replay_share: float = 0.0,
                    mixer=mix_with_replay, trainable_blocks: int | None = None, eval_every: int | None = None,
                    seed: int = 0, progress: bool = False, **train_kw) -> Measurement:
    """Fine-tune a copy of `base_model` on support logs with one setting and measure it.

    `mixer(sft, pool, share, seed)` mixes replay in (the notebook passes the student's own);
    `trainable_blocks` freezes the rest; `eval_every` also records a curve of all three measures.
    """
    kw = {**DEFAULTS, **train_kw}
    model = copy.deepcopy(base_model)
    sft = encode_sft(load_sft("support", "train"), tokenizer).select_columns(["input_ids", "response_mask"]).to_list()
    data = mixer(sft, replay_pool(tokenizer), replay_share, seed) if replay_share else sft
    if trainable_blocks is not None:
        freeze_all_but_top(model, trainable_blocks)

    def curve_point(m):
        r = measure(m, tokenizer, sticks)
        return {"facts": r.facts, "perplexity": r.perplexity, "support": r.support}

    history = train_sft(model, data, pad_token_id=tokenizer.eos_token_id, max_steps=kw["steps"],
                        batch_size=kw["batch_size"], lr=kw["lr"], seed=seed, progress=progress,
                        eval_fn=curve_point if eval_every else None, eval_every=eval_every)
    result = measure(model, tokenizer, sticks) if not eval_every else Measurement(
        history["eval"][-1]["facts"], history["eval"][-1]["perplexity"], history["eval"][-1]["support"])
    result.extra = {"history": history, "model": model}
    return result
