"""The SFT training loop of notebook 03, with what a real run needs around it.

    for each step:  batch -> forward -> response-masked loss -> backward -> clip -> AdamW step -> schedule

What it does that a naive loop gets wrong:
- gradient accumulation divides every micro-batch's summed loss by the response-token count of the
  *whole* optimizer step, so k micro-batches give exactly the gradient of one k-times-larger batch
  (averaging micro-batch means over-weights short responses: notebook 02);
- random batches, so a mixed SFT set stays mixed in every batch and each task weighs in the loss by its
  share of response tokens; a batch is then laid out to waste little compute on padding (`Layout`),
  which changes the speed, never the loss or the gradient;
- logits only where the loss reads them (`loss.response_nll`), and the log-softmax in float32 under
  bf16 autocast;
- no host-device synchronisation of its own per step: counts and indices come from the CPU side of the
  batch, and the loss is read back once every `log_every` steps;
- evaluation in eval mode (no dropout), training resumes in train mode.
The schedule (linear warm-up, cosine decay to a floor) and the seeding are transformers' own.
"""
from __future__ import annotations

import enum
import functools
import math
import os
import random
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_cosine_with_min_lr_schedule_with_warmup, set_seed

from .encode import PACKED_ROW_TOKENS, Layout, collate, lay_out, length_grouped_batches, to_device
from .env import cpu_bf16_requested, pick_device
from .loss import response_nll
from .models import eval_mode


class Precision(str, enum.Enum):
    AUTO = "auto"          # bf16 autocast on a GPU (fp16 where it lacks bf16); float32 on a CPU unless COURSE_CPU_BF16=1
    FLOAT32 = "float32"
    BF16 = "bf16"          # bf16 autocast, on a GPU or a CPU
    FP16 = "fp16"          # fp16 autocast with a gradient scaler (GPU only)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run, apart from the model and the data."""
    max_steps: int | None = None       # None: `epochs` passes over the data
    epochs: float = 1.0
    batch_size: int = 16
    grad_accum: int = 1                # micro-batches of `batch_size` per optimizer step
    lr: float = 5e-4                   # peak learning rate
    warmup_steps: int | None = None    # None: 5% of the steps
    min_lr_ratio: float = 0.1          # the cosine ends at this share of the peak
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0  # None: no clipping
    precision: Precision = Precision.AUTO
    layout: Layout = Layout.SPLIT
    log_every: int = 10
    eval_every: int | None = None      # None: evaluate at the end only
    seed: int = 0
    shuffle: bool = True               # False: batches in the data's own order, epoch after epoch
    compile_model: bool = False        # torch.compile the forward and loss (needs a C++ compiler)

    def __post_init__(self):
        for name, kind in (("precision", Precision), ("layout", Layout)):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, kind(value))
            except ValueError:
                raise ValueError(f"{name}={value!r}: choose one of {[k.value for k in kind]}") from None
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError(f"batch_size={self.batch_size} and grad_accum={self.grad_accum} must both be >= 1")
        if not self.shuffle and self.layout is Layout.SORTED:
            raise ValueError("layout='sorted' draws shuffled batches of similar length; use shuffle=True with it")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps={self.max_steps} must be >= 1 (or None to train for `epochs`)")

    def total_steps(self, n_examples: int) -> int:
        steps_per_epoch = max(1, math.ceil(n_examples / self.batch_size) // self.grad_accum)
        return self.max_steps or max(1, round(self.epochs * steps_per_epoch))


@dataclass
class RunResult:
    """What a run returns: the logged curve, the evaluations and the run's figures."""
    config: TrainConfig
    steps: int
    device: str
    autocast: str                                       # "off", "bfloat16" or "float16"
    step: list[int] = field(default_factory=list)       # logged steps
    train_loss: list[float] = field(default_factory=list)   # mean loss over the steps since the last log
    lr: list[float] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)     # {"step", "val_loss", and what eval_fn returned}
    examples_seen: int = 0
    response_tokens: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    seconds: float = 0.0

    @property
    def padding_share(self) -> float:
        return 1 - self.real_tokens / max(1, self.padded_tokens)


def autocast_dtype(device: torch.device, precision: Precision) -> torch.dtype | None:
    """The autocast dtype of a precision choice on a device (None: float32)."""
    precision = Precision(precision)
    if precision is Precision.FLOAT32 or device.type not in ("cpu", "cuda"):
        return None
    if precision is Precision.FP16:
        if device.type == "cpu":
            raise ValueError("precision='fp16' needs a CUDA GPU; on the CPU use 'bf16' or 'float32'")
        return torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if precision is Precision.BF16 or cpu_bf16_requested() else None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def planned_batches(lengths: list[int], config: TrainConfig, total_steps: int) -> list[list[int]]:
    """The example indices of every micro-batch a run draws, in order: a new seeded shuffle every epoch
    (or the data's own order with `shuffle=False`). What train_sft trains on, and what a notebook can
    ask to know which examples a run has already seen by a given step."""
    rng, batches = random.Random(config.seed), []
    while len(batches) < total_steps * config.grad_accum:
        if config.shuffle:
            batches += length_grouped_batches(lengths, config.batch_size, rng, config.layout is Layout.SORTED)
        else:
            batches += [list(range(s, min(s + config.batch_size, len(lengths))))
                        for s in range(0, len(lengths), config.batch_size)]
    return batches[: total_steps * config.grad_accum]


def _loader(rows: list[dict], config: TrainConfig, pad_token_id: int, model, device, total: int) -> DataLoader:
    """Micro-batches for `total` steps. On a GPU a worker process prepares the next batches while the
    model computes; on a CPU both would compete for the same cores, so batches are made in the loop."""
    row_tokens = max(PACKED_ROW_TOKENS, model.config.n_positions)
    batches = planned_batches([len(r["input_ids"]) for r in rows], config, total)
    workers = 1 if device.type == "cuda" else 0
    if workers:   # tokenizers warns in a forked worker unless its parallelism is configured
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return DataLoader(rows, batch_sampler=batches, num_workers=workers, pin_memory=device.type == "cuda",
                      collate_fn=functools.partial(lay_out, pad_token_id=pad_token_id, layout=config.layout,
                                                   row_tokens=row_tokens))


def _checked_rows(data, model) -> list[dict]:
    if hasattr(data, "column_names"):      # a datasets.Dataset: keep only what training needs
        data = data.select_columns(["input_ids", "response_mask"]).to_list()
    rows = list(data)
    if not rows:
        raise ValueError("the training data is empty")
    capacity = model.config.n_positions
    for i, r in enumerate(rows):
        if "input_ids" not in r or "response_mask" not in r:
            raise ValueError(f"example {i} has no input_ids/response_mask; encode it first (encode.encode_sft)")
        if len(r["input_ids"]) > capacity:
            raise ValueError(f"example {i} has {len(r['input_ids'])} tokens, more than the model's {capacity} "
                             f"positions; encode with max_length={capacity}")
    return rows


def _optimizer(model, config: TrainConfig, device: torch.device):
    """AdamW with weight decay on the matrices only (not on biases and layer norms), fused into one kernel."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if p.dim() >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, fused=device.type in ("cuda", "cpu"))


@torch.no_grad()
def validation_loss(model, data, pad_token_id: int, batch_size: int = 32, device=None,
                    precision: Precision = Precision.AUTO) -> float:
    """Token-weighted response loss over a whole encoded set, in eval mode (the mode is given back)."""
    device = torch.device(device or next(model.parameters()).device)
    dtype = autocast_dtype(device, precision)
    rows = _checked_rows(data, model)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))    # similar lengths: little padding
    total, count = torch.zeros((), device=device), 0
    with eval_mode(model):
        for s in range(0, len(order), batch_size):
            batch = collate([rows[i] for i in order[s: s + batch_size]], pad_token_id)
            count += batch["loss_tokens"]
            with _autocast(device, dtype):
                total += response_nll(model, to_device(batch, device))
    return total.item() / max(count, 1)


def train_sft(model, train_data, config: TrainConfig | None = None, *, pad_token_id: int, eval_data=None,
              eval_fn: Callable | None = None, device=None, progress: bool = True, **settings) -> RunResult:
    """Fine-tune `model` in place on encoded examples (dicts with input_ids and response_mask).

    `config` (a TrainConfig) or its fields as keywords (`max_steps=540, lr=1e-3`) set the run. Every
    `eval_every` steps, and at the end, it records the validation loss on `eval_data` and whatever
    `eval_fn(model)` returns (a dict), both in eval mode.
    """
    config = replace(config or TrainConfig(), **settings)
    device = pick_device(device)
    rows = _checked_rows(train_data, model)
    set_seed(config.seed)
    total = config.total_steps(len(rows))
    model.to(device).train()
    opt = _optimizer(model, config, device)
    warmup = config.warmup_steps if config.warmup_steps is not None else max(1, total // 20)
    schedule = get_cosine_with_min_lr_schedule_with_warmup(opt, warmup, total, min_lr_rate=config.min_lr_ratio)
    dtype = autocast_dtype(device, config.precision)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    nll = torch.compile(response_nll) if config.compile_model else response_nll
    run = RunResult(config, total, str(device), str(dtype).replace("torch.", "") if dtype else "off")
    batches = iter(_loader(rows, config, pad_token_id, model, device, total))
    running, since_log, t0 = torch.zeros((), device=device), 0, time.time()
    for step in tqdm(range(1, total + 1), desc="SFT", disable=not progress, mininterval=1.0):
        parts = [part for _ in range(config.grad_accum) for part in next(batches)]
        step_tokens = max(1, sum(p["loss_tokens"] for p in parts))     # Python ints: no sync
        for part in parts:
            with _autocast(device, dtype):
                loss = nll(model, to_device(part, device)) / step_tokens
            (scaler.scale(loss) if scaler else loss).backward()
            running += loss.detach()
        _optimizer_step(model, opt, scaler, config.max_grad_norm)
        _count(run, parts)
        run_lr, since_log = schedule.get_last_lr()[0], since_log + 1
        schedule.step()
        if step % config.log_every == 0 or step == total:
            run.step.append(step)
            run.train_loss.append((running / since_log).item())      # the loop's one read-back
            run.lr.append(run_lr)
            running.zero_()
            since_log = 0
        if (config.eval_every and step % config.eval_every == 0) or (step == total and (eval_data is not None or eval_fn)):
            run.evals.append(_evaluate(model, step, eval_data, eval_fn, pad_token_id, device, config.precision))
    model.eval()
    run.seconds = time.time() - t0
    return run


def _optimizer_step(model, opt, scaler, max_grad_norm: float | None) -> None:
    if scaler:
        scaler.unscale_(opt)
    if max_grad_norm:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler:
        scaler.step(opt)
        scaler.update()
    else:
        opt.step()
    opt.zero_grad(set_to_none=True)


def _count(run: RunResult, parts: list[dict]) -> None:
    run.examples_seen += sum(len(p["target_counts"]) for p in parts)
    run.response_tokens += sum(p["loss_tokens"] for p in parts)
    run.real_tokens += sum(p["real_tokens"] for p in parts)
    run.padded_tokens += sum(p["input_ids"].numel() for p in parts)


def _evaluate(model, step: int, eval_data, eval_fn, pad_token_id: int, device, precision) -> dict:
    record = {"step": step}
    if eval_data is not None:
        record["val_loss"] = validation_loss(model, eval_data, pad_token_id, device=device, precision=precision)
    if eval_fn is not None:
        with eval_mode(model):        # dropout off while measuring; the train mode comes back
            record.update(eval_fn(model))
    return record
