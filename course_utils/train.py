"""The SFT training loop, written out: batches -> forward -> sft_loss -> backward -> AdamW step.

What it does that a naive loop gets wrong:
- gradient accumulation divides every micro-batch's summed loss by the response-token count of the
  *whole* optimizer step, so k micro-batches give exactly the gradient of one k-times-larger batch
  (averaging micro-batch means over-weights short responses: the 2024 transformers bug);
- random batches, so a mixed SFT set stays mixed in every batch and each task weighs in the loss by
  its share of response tokens (length-grouped batches would make them single-task and re-weight the
  tasks); a batch whose lengths differ a lot is computed as length-homogeneous parts of one step (or,
  with `packing=True`, packed end to end with a block-diagonal mask), so little compute is spent on
  padding (reported);
- bf16 autocast on GPUs that support it (fp16 with a gradient scaler otherwise); float32 on the CPU
  unless COURSE_CPU_BF16=1 asks for bf16 there;
- logits only where the loss reads them (`response_logits`): the vocabulary projection of prompt
  positions is skipped;
- no host-device synchronisation per step: counts and shapes come from the CPU copies of a batch,
  and losses are read back only every `log_every` steps.
"""
from __future__ import annotations

import contextlib
import math
import random
import time
from typing import Callable

import torch
from tqdm.auto import tqdm

from .encode import collate, collate_packed, split_by_length
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


def logits_to_keep(response_mask: torch.Tensor) -> int:
    """How many trailing positions' logits the loss reads: from the position before the batch's earliest
    response token to the end. Computed on the CPU copy of the mask, so asking costs no device sync."""
    T = response_mask.shape[1]
    has = response_mask.any(dim=1)
    if not bool(has.any()):
        return 1
    first = int(response_mask[has].float().argmax(dim=1).min())
    return min(T, T - first + 1)


def response_logits(model, batch: dict, keep: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits for the positions the loss reads, and the matching slices of input_ids and response_mask.

    The language-model head (a 192 x 4,096 matrix for gpt2-tiny, 768 x 50,257 for GPT-2) and the
    log-softmax over the vocabulary cost as much as several transformer layers, yet the SFT loss only
    reads the logits that predict response tokens. Hugging Face causal LMs take `logits_to_keep=k` (the
    last k positions), so we keep from the position before the batch's earliest response token onward.
    The loss and its gradients are exactly those of the full logits (tests/test_train.py checks it).
    Pass `keep` (from `logits_to_keep` on the CPU mask) to avoid reading the mask back from the GPU.
    Packed batches (`position_ids` present) are scored in full: their response tokens are spread over
    the whole row.
    """
    ids, mask = batch["input_ids"], batch["response_mask"]
    T = ids.shape[1]
    if "position_ids" in batch:
        return _packed_response_logits(model, batch)
    if keep is None:
        keep = logits_to_keep(mask)
    logits = model(input_ids=ids, attention_mask=batch["attention_mask"], logits_to_keep=keep).logits
    return logits, ids[:, T - keep:], mask[:, T - keep:]


def predicted_positions(response_mask: torch.Tensor) -> torch.Tensor:
    """Flat indices of the positions whose *next* token carries loss (computed on the CPU)."""
    return response_mask[:, 1:].flatten().nonzero().squeeze(1)


def _packed_response_logits(model, batch: dict):
    """In a packed row the response tokens are spread over the whole row, so "the last k positions"
    does not help. Instead: run the transformer body, pick the hidden states that predict a response
    token, and apply the language-model head to those alone. Each picked position then becomes a
    two-token "sequence" (the prediction, then its target) so that `sft_loss` applies unchanged."""
    ids = batch["input_ids"]
    out = model(input_ids=ids, attention_mask=batch["attention_mask"], position_ids=batch["position_ids"],
                logits_to_keep=1, output_hidden_states=True)
    hidden = out.hidden_states[-1][:, :-1].flatten(0, 1)            # (rows * (T-1), d), final norm applied
    index = batch["predict_at"]
    logits = model.get_output_embeddings()(hidden.index_select(0, index))          # (N, vocab)
    targets = ids[:, 1:].flatten().index_select(0, index)
    pairs = torch.stack([targets, targets], dim=1)
    return logits.unsqueeze(1).expand(-1, 2, -1), pairs, torch.tensor([[0, 1]], device=ids.device).expand_as(pairs)


def _packed_mask_for(model, attention: torch.Tensor) -> torch.Tensor:
    """The block-diagonal mask in the form the model's attention kernel takes: SDPA reads a boolean
    mask (True = may attend); the eager kernel adds the mask to the scores, so it needs 0 / -inf."""
    implementation = getattr(model.config, "_attn_implementation", "sdpa")
    if implementation == "sdpa":
        return attention
    if implementation == "eager":
        return torch.zeros(attention.shape, dtype=torch.float32).masked_fill(~attention, float("-inf"))
    raise ValueError(f"packing=True supports the 'sdpa' and 'eager' attention implementations, not "
                     f"{implementation!r}; pass packing=False")


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
              packing: bool | None = None, group_by_length: bool = False, compile: bool = False,
              progress: bool = True) -> dict:
    """Fine-tune `model` in place on encoded examples (dicts with input_ids and response_mask).

    One optimizer step = `grad_accum` micro-batches of `batch_size` examples. The run lasts
    `max_steps` steps, or `epochs` passes over the data. Every `eval_every` steps (and at the end)
    it records the validation loss on `eval_data` and whatever `eval_fn(model)` returns (a dict).
    Returns a history: per-log-step train loss and learning rate, the evaluations, and run figures.

    Batches are random draws, so a mixed set stays mixed inside every batch and each task weighs in
    the loss by its share of response tokens. How a batch is computed: `packing=None` (default) splits
    it into parts of similar length, padded separately and normalised by the whole step's token count,
    so the gradient is the mixed batch's and little is padding; `packing=True` lays the examples end to
    end instead (no attention across examples, `encode.collate_packed`); `packing=False` pads the whole
    batch to its longest example. `group_by_length=True` (with padding) sorts examples by length into
    batches: less padding, but single-task batches, which re-weights the tasks (notebook 03).
    """
    if batch_size < 1 or grad_accum < 1:
        raise ValueError(f"batch_size={batch_size} and grad_accum={grad_accum} must both be >= 1")
    if packing and group_by_length:
        raise ValueError("group_by_length=True only applies to padded batches; pass packing=False with it")
    device = pick_device(device)
    rows = _as_rows(train_data)
    capacity = getattr(model.config, "n_positions", None) or max(len(r["input_ids"]) for r in rows)
    too_long = next((i for i, r in enumerate(rows) if len(r["input_ids"]) > capacity), None)
    if too_long is not None:
        raise ValueError(f"example {too_long} has {len(rows[too_long]['input_ids'])} tokens, more than the model's "
                         f"{capacity} positions; encode with max_length={capacity}")
    if packing:
        _packed_mask_for(model, torch.ones(1, 1, 1, 1, dtype=torch.bool))   # fails early on other kernels
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
            with eval_mode(model):        # dropout off while measuring; the train mode comes back
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
            examples = [rows[i] for i in batches.pop()]
            history["examples_seen"] += len(examples)
            if packing:
                b = collate_packed(examples, pad_token_id, capacity)
                history["real_tokens"] += b.pop("real_tokens")
                b["attention_mask"] = _packed_mask_for(model, b["attention_mask"])
                b["predict_at"] = predicted_positions(b["response_mask"])
                parts = [b]
            elif packing is None:     # one mixed batch, run as length-homogeneous parts
                groups = split_by_length([len(e["input_ids"]) for e in examples])
                parts = [collate([examples[i] for i in g], pad_token_id) for g in groups]
            else:
                parts = [collate(examples, pad_token_id)]
            for b in parts:
                if "position_ids" not in b:
                    history["real_tokens"] += int(b["attention_mask"].sum())
                history["padded_tokens"] += b["input_ids"].numel()
            micro += parts
        # Everything shape- and count-related is computed on the CPU copies, before they go to the
        # device: no host-device sync in a step.
        step_tokens = int(sum(count_loss_tokens(b["response_mask"]) for b in micro).clamp(min=1))
        for b in micro:
            keep = None if "position_ids" in b else logits_to_keep(b["response_mask"])
            b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
            with torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext():
                logits, ids, mask = response_logits(forward, b, keep)
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
