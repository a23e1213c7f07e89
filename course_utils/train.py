"""The SFT training loop, written out: batches -> forward -> sft_loss -> backward -> AdamW step.

What it does that a naive loop gets wrong:
- gradient accumulation divides every micro-batch's summed loss by the response-token count of the
  *whole* optimizer step, so k micro-batches give exactly the gradient of one k-times-larger batch
  (averaging micro-batch means over-weights short responses: the 2024 transformers bug);
- length-grouped batches with dynamic padding, so little compute is spent on padding (reported);
- bf16 autocast on GPUs that support it (fp16 with a gradient scaler otherwise); float32 on the CPU
  unless COURSE_CPU_BF16=1 asks for bf16 there;
- logits only where the loss reads them (`response_logits`): the vocabulary projection of prompt
  positions is skipped;
- no host-device synchronisation per step: losses are read back only every `log_every` steps.
"""
from __future__ import annotations

import contextlib
import math
import random
import time
from typing import Callable

import torch
from tqdm.auto import tqdm

from .encode import collate
from .env import cpu_bf16_requested, pick_device
from .evaluate import eval_mode
from .loss import count_loss_tokens, sft_loss


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random,
                           group_by_length: bool = True, window: int = 64) -> list[list[int]]:
    """Shuffle example indices into batches; with grouping, sort windows of `window` batches by length
    first so each batch holds similar lengths (less padding), then shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        span = batch_size * window
        order = [i for s in range(0, len(order), span)
                 for i in sorted(order[s: s + span], key=lambda j: lengths[j])]
    batches = [order[s: s + batch_size] for s in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def _as_rows(data) -> list[dict]:
    if hasattr(data, "column_names"):      # a datasets.Dataset: keep only what training needs
        data = data.select_columns(["input_ids", "response_mask"]).to_list()
    rows = list(data)
    if not rows:
        raise ValueError("the training data is empty")
    for i, r in enumerate(rows):
        if "input_ids" not in r or "response_mask" not in r:
            raise ValueError(f"example {i} has no input_ids/response_mask; encode it first (encode.encode_sft)")
    return rows


def _autocast_dtype(device: torch.device, amp) -> torch.dtype | None:
    if amp is False or amp == "off":
        return None
    if device.type == "cpu":
        # Auto: float32, unless the COURSE_CPU_BF16 switch asks for bf16 (see env.cpu_bf16_requested).
        if amp in ("bf16", torch.bfloat16) or (amp in (None, True) and cpu_bf16_requested()):
            return torch.bfloat16
        if amp in (None, True):
            return None
        raise ValueError(f"amp={amp!r} on the CPU: use None (auto), False (float32) or 'bf16'")
    if device.type != "cuda":
        return None
    if amp in ("fp16", torch.float16):
        return torch.float16
    if amp in (None, True, "bf16", torch.bfloat16):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    raise ValueError(f"amp={amp!r}: use None (auto), False, 'bf16' or 'fp16'")


def response_logits(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits for the positions the loss reads, and the matching slices of input_ids and response_mask.

    The language-model head (a 192 x 4,096 matrix for gpt2-tiny, 768 x 50,257 for GPT-2) and the
    log-softmax over the vocabulary cost as much as several transformer layers, yet the SFT loss only
    reads the logits that predict response tokens. Hugging Face causal LMs take `logits_to_keep=k` (the
    last k positions), so we keep from the position before the batch's earliest response token onward.
    The loss and its gradients are exactly those of the full logits (tests/test_train.py checks it).
    """
    ids, mask = batch["input_ids"], batch["response_mask"]
    T = ids.shape[1]
    has = mask.any(dim=1)
    first = int(mask[has].float().argmax(dim=1).min()) if bool(has.any()) else T - 1   # earliest response token
    keep = min(T, T - first + 1)
    logits = model(input_ids=ids, attention_mask=batch["attention_mask"], logits_to_keep=keep).logits
    return logits, ids[:, T - keep:], mask[:, T - keep:]


@torch.no_grad()
def validation_loss(model, data, pad_token_id: int, batch_size: int = 32, device=None) -> float:
    """Token-weighted response loss over a whole encoded set, in eval mode (the mode is given back)."""
    device = device or next(model.parameters()).device
    rows = _as_rows(data)
    total, count = 0.0, 0
    with eval_mode(model):
        for s in range(0, len(rows), batch_size):
            batch = {k: v.to(device) for k, v in collate(rows[s: s + batch_size], pad_token_id).items()}
            logits, ids, mask = response_logits(model, batch)
            total += sft_loss(logits, ids, mask, normalize="sum").item()
            count += int(count_loss_tokens(batch["response_mask"]))
    return total / max(count, 1)


def train_sft(model, train_data, *, pad_token_id: int, epochs: float = 1.0, max_steps: int | None = None,
              batch_size: int = 16, grad_accum: int = 1, lr: float = 5e-4, warmup_steps: int | None = None,
              min_lr_ratio: float = 0.1, weight_decay: float = 0.0, max_grad_norm: float | None = 1.0,
              device=None, amp=None, eval_data=None, eval_every: int | None = None,
              eval_fn: Callable | None = None, log_every: int = 10, seed: int = 0,
              group_by_length: bool = True, compile: bool = False, progress: bool = True) -> dict:
    """Fine-tune `model` in place on encoded examples (dicts with input_ids and response_mask).

    One optimizer step = `grad_accum` micro-batches of `batch_size` examples. The run lasts
    `max_steps` steps, or `epochs` passes over the data. Every `eval_every` steps (and at the end)
    it records the validation loss on `eval_data` and whatever `eval_fn(model)` returns (a dict).
    Returns a history: per-log-step train loss and learning rate, the evaluations, and run figures.
    """
    if batch_size < 1 or grad_accum < 1:
        raise ValueError(f"batch_size={batch_size} and grad_accum={grad_accum} must both be >= 1")
    device = pick_device(device)
    rows = _as_rows(train_data)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    lengths = [len(r["input_ids"]) for r in rows]
    steps_per_epoch = max(1, math.ceil(len(rows) / batch_size) // grad_accum)
    total_steps = max_steps or max(1, round(epochs * steps_per_epoch))
    warmup = warmup_steps if warmup_steps is not None else max(1, total_steps // 20)

    model.to(device).train()
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr,
                            fused=device.type in ("cuda", "cpu"))   # one kernel for all parameters

    def lr_factor(step):   # linear warm-up, then cosine decay to min_lr_ratio
        if step < warmup:
            return (step + 1) / warmup
        progress_ = (step - warmup) / max(1, total_steps - warmup)
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    dtype = _autocast_dtype(device, amp)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    forward = torch.compile(model) if compile else model

    history = {"step": [], "train_loss": [], "lr": [], "eval": [], "steps": total_steps,
               "examples_seen": 0, "response_tokens": 0, "real_tokens": 0, "padded_tokens": 0}
    batches: list[list[int]] = []
    running = torch.zeros((), device=device)
    running_n = 0

    def evaluate(step):
        record = {"step": step}
        if eval_data is not None:
            record["val_loss"] = validation_loss(model, eval_data, pad_token_id, device=device)
        if eval_fn is not None:
            record.update(eval_fn(model))
        model.train()
        history["eval"].append(record)

    t0 = time.time()
    bar = tqdm(range(total_steps), desc="SFT", disable=not progress, mininterval=1.0)
    for step in bar:
        micro = []
        for _ in range(grad_accum):
            if not batches:
                batches = length_grouped_batches(lengths, batch_size, rng, group_by_length)
            micro.append(collate([rows[i] for i in batches.pop()], pad_token_id))
        # The whole step's loss-token count, computed on the CPU copies: no device sync.
        step_tokens = sum(count_loss_tokens(b["response_mask"]) for b in micro).clamp(min=1).item()
        for b in micro:
            history["examples_seen"] += len(b["input_ids"])
            history["real_tokens"] += int(b["attention_mask"].sum())
            history["padded_tokens"] += b["input_ids"].numel()
            b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
            with torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext():
                logits, ids, mask = response_logits(forward, b)
            loss = sft_loss(logits, ids, mask, normalize=step_tokens)
            (scaler.scale(loss) if scaler else loss).backward()
            running += loss.detach()
        history["response_tokens"] += int(step_tokens)
        running_n += 1
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
        history_lr = sched.get_last_lr()[0]
        sched.step()
        last = step == total_steps - 1
        if (step + 1) % log_every == 0 or last:
            mean_loss = (running / running_n).item()      # the only sync, once per log_every steps
            history["step"].append(step + 1)
            history["train_loss"].append(mean_loss)
            history["lr"].append(history_lr)
            running.zero_()
            running_n = 0
            bar.set_postfix(loss=f"{mean_loss:.3f}", refresh=False)
        if (eval_every and (step + 1) % eval_every == 0) or (last and (eval_data is not None or eval_fn)):
            if not history["eval"] or history["eval"][-1]["step"] != step + 1:
                evaluate(step + 1)
    bar.close()
    model.eval()
    history["seconds"] = time.time() - t0
    history["padding_share"] = 1 - history["real_tokens"] / max(1, history["padded_tokens"])
    history["device"] = str(device)
    history["amp"] = str(dtype).replace("torch.", "") if dtype else "off"
    return history
