"""Measuring what SFT costs (notebook 04): general knowledge vs the task, for one fine-tuning setting.

General knowledge = fact-probe accuracy (does the model still complete "X was born in" right?) and
perplexity on held-out world text; the task = the share of held-out support prompts answered per
policy. `support_sft_run` fine-tunes a fresh copy of a base model on support logs with one setting
(learning rate, steps, replay share, frozen layers, LoRA rank) and measures all three, so settings can
be compared at the same budget.
"""
from __future__ import annotations

import contextlib
import copy
import random
import warnings
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


# Every weight matrix of a GPT-2 block: attention's c_attn (query, key, value) and c_proj, the MLP's c_fc and
# c_proj (the name matches both projections). Biderman et al. (2024) found LoRA on all of them does best.
LORA_TARGETS = ("c_attn", "c_proj", "c_fc")


@contextlib.contextmanager
def quiet_peft():
    """Silence the one warning peft triggers in transformers 5 through no option of ours: wrapping a model
    (`get_peft_model`, `PeftModel.from_pretrained`) asks it for `is_gradient_checkpointing`, which
    transformers 5 deprecates with a FutureWarning (peft 0.21 still asks). Anything else still warns."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def add_lora(model, rank: int, targets=LORA_TARGETS):
    """Wrap `model` (in place) with LoRA adapters of rank `rank` on `targets`; return the peft model and
    its trainable parameter count, r * (fan_in + fan_out) per adapted matrix.

    Each adapted weight W (frozen) gets W + (alpha / r) * B A, with A (r x fan_in) random and B
    (fan_out x r) zero, so training starts from the base model exactly. alpha = 2r keeps the scale
    alpha / r the same at every rank (as Biderman et al. 2024 did). GPT-2 stores these layers as
    Conv1D, whose weight is (fan_in, fan_out), the transpose of nn.Linear's: `fan_in_fan_out=True` tells
    peft so (without it peft warns and corrects it itself)."""
    from peft import LoraConfig, get_peft_model     # here, so the rest of the module runs without peft
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=list(targets),
                        fan_in_fan_out=True)
    with quiet_peft():
        lora = get_peft_model(model, config)
    return lora, sum(p.numel() for p in lora.parameters() if p.requires_grad)


def support_sft_run(base_model, tokenizer, sticks: Yardsticks, *, replay_share: float = 0.0,
                    mixer=mix_with_replay, trainable_blocks: int | None = None, lora_rank: int | None = None,
                    eval_every: int | None = None, seed: int = 0, progress: bool = False,
                    **train_kw) -> Measurement:
    """Fine-tune a copy of `base_model` on support logs with one setting and measure it.

    `mixer(sft, pool, share, seed)` mixes replay in (the notebook passes the student's own);
    `trainable_blocks` freezes the rest; `lora_rank` trains LoRA adapters of that rank instead of the
    weights (`add_lora`); `eval_every` also records a curve of all three measures. The result's
    `extra` holds the history, the trained model and its trainable parameter count.
    """
    if trainable_blocks is not None and lora_rank is not None:
        raise ValueError("pass trainable_blocks or lora_rank, not both")
    kw = {**DEFAULTS, **train_kw}
    model = copy.deepcopy(base_model)
    sft = encode_sft(load_sft("support", "train"), tokenizer).select_columns(["input_ids", "response_mask"]).to_list()
    data = mixer(sft, replay_pool(tokenizer), replay_share, seed) if replay_share else sft
    if trainable_blocks is not None:
        freeze_all_but_top(model, trainable_blocks)
    if lora_rank is not None:
        model, _ = add_lora(model, lora_rank)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    def curve_point(m):
        r = measure(m, tokenizer, sticks)
        return {"facts": r.facts, "perplexity": r.perplexity, "support": r.support}

    history = train_sft(model, data, pad_token_id=tokenizer.eos_token_id, max_steps=kw["steps"],
                        batch_size=kw["batch_size"], lr=kw["lr"], seed=seed, progress=progress,
                        eval_fn=curve_point if eval_every else None, eval_every=eval_every)
    result = measure(model, tokenizer, sticks) if not eval_every else Measurement(
        history["eval"][-1]["facts"], history["eval"][-1]["perplexity"], history["eval"][-1]["support"])
    result.extra = {"history": history, "model": model, "trainable": trainable}
    return result
