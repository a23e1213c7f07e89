"""Measuring what SFT costs (notebook 04): general knowledge vs the task, for one fine-tuning setting.

General knowledge = fact-probe accuracy (does the model still complete "X was born in" right?) and
perplexity on held-out world text; the task = the share of held-out support prompts answered per
policy. `support_sft_run` fine-tunes a fresh copy of a base model on support logs with one setting
(learning rate, steps, replay share, frozen layers, LoRA rank) and measures all three, so settings can
be compared at the same budget.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field, replace

from .adapters import add_lora, freeze_all_but_top
from .data import load_eval, load_sft
from .encode import encode_sft
from .evaluate import fact_probe_accuracy, load_probes, perplexity, task_score
from .replay import mix_with_replay, replay_pool
from .train import TrainConfig, train_sft

SUPPORT_RUN = TrainConfig(max_steps=400, batch_size=8, lr=2e-3)    # plain support SFT, notebook 04's budget


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


def support_sft_run(base_model, tokenizer, sticks: Yardsticks, config: TrainConfig = SUPPORT_RUN, *,
                    replay_share: float = 0.0, mixer=mix_with_replay, trainable_blocks: int | None = None,
                    lora_rank: int | None = None, progress: bool = False, **settings) -> Measurement:
    """Fine-tune a copy of `base_model` on support logs with one setting and measure it.

    `config` (or any of its fields as a keyword, e.g. `lr=5e-4`) is the training run; `mixer(sft, pool,
    share, seed)` mixes replay in (the notebook passes the student's own); `trainable_blocks` freezes the
    rest; `lora_rank` trains LoRA adapters of that rank instead of the weights (`adapters.add_lora`).
    With `eval_every`, all three measures are also recorded along the run. The result's `extra` holds the
    run, the trained model and its trainable parameter count.
    """
    if trainable_blocks is not None and lora_rank is not None:
        raise ValueError("pass trainable_blocks or lora_rank, not both")
    config = replace(config, **settings)
    model = copy.deepcopy(base_model)
    sft = encode_sft(load_sft("support", "train"), tokenizer).select_columns(["input_ids", "response_mask"]).to_list()
    data = mixer(sft, replay_pool(tokenizer), replay_share, config.seed) if replay_share else sft
    if trainable_blocks is not None:
        freeze_all_but_top(model, trainable_blocks)
    if lora_rank is not None:
        model, _ = add_lora(model, lora_rank)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    def curve_point(m):
        r = measure(m, tokenizer, sticks)
        return {"facts": r.facts, "perplexity": r.perplexity, "support": r.support}

    run = train_sft(model, data, config, pad_token_id=tokenizer.eos_token_id, progress=progress,
                    eval_fn=curve_point if config.eval_every else None)
    last = run.evals[-1] if config.eval_every else None
    result = Measurement(last["facts"], last["perplexity"], last["support"]) if last else measure(model, tokenizer, sticks)
    result.extra = {"run": run, "model": model, "trainable": trainable}
    return result
