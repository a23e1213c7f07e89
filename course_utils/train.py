"""The SFT training loop, written out: batches -> forward -> sft_loss -> backward -> AdamW step.

What it does that a naive loop gets wrong:
- gradient accumulation divides every micro-batch's summed loss by the response-token count of the
  *whole* optimizer step, so k micro-batches give exactly the gradient of one k-times-larger batch
  (averaging micro-batch means over-weights short responses: the 2024 transformers bug);
- random batches, so a mixed SFT set stays mixed in every batch and each task weighs in the loss by
  its share of response tokens (length-grouped batches would make them single-task, and a step of
  25-token answers would weigh as much as a step of 230-token summaries); a batch whose lengths differ
  a lot is computed as length-homogeneous parts of one step, divided by the whole step's token count,
  so the gradient is the mixed batch's and little compute is spent on padding (reported). With
  `packing=True` the examples are laid end to end instead (positions restart for every example, and a
  block-diagonal causal mask keeps them apart): under 5% padding, the same loss and gradients;
- bf16 autocast on GPUs that support it (fp16 with a gradient scaler otherwise); float32 on the CPU
  unless COURSE_CPU_BF16=1 asks for bf16 there;
- logits only where the loss reads them (`response_nll`): the transformer runs on every position, the
  vocabulary projection only at the positions that predict a response token;
- no host-device synchronisation per step: every count, shape and index comes from the CPU side of the
  batch (`encode.collate_rows`), the attention mask is built on the device, and the loss is read back
  only every `log_every` steps;
- `eval_fn` and the validation loss run in eval mode (no dropout), and training resumes in train mode.
"""
from __future__ import annotations

import contextlib
import math
import random
import time
from typing import Callable

import torch
from tqdm.auto import tqdm

from .encode import block_causal_mask, collate_packed, collate_rows, split_by_length
from .env import cpu_bf16_requested, pick_device
from .evaluate import eval_mode
from .loss import token_nll

# A packed row holds at most this many tokens (or the model's context, if longer). One row per batch of
# notebook 03 (8 examples, about 1,300 tokens), so packing pads only to the next multiple of 64 (2%).
# Rows much longer would cost more in attention: the block-diagonal mask is dense, and every masked
# pair is still computed.
PACKED_ROW_TOKENS = 2048


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


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()


def logits_to_keep(response_mask: torch.Tensor) -> int:
    """How many trailing positions' logits the loss reads: from the position before the batch's earliest
    response token to the end. Call it on the CPU copy of the mask (on a GPU copy, asking is a sync)."""
    T = response_mask.shape[1]
    has = response_mask.any(dim=1)
    if not bool(has.any()):
        return 1
    first = int(response_mask[has].float().argmax(dim=1).min())
    return min(T, T - first + 1)


def response_logits(model, batch: dict, keep: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits for the positions the loss reads in a padded batch (`encode.collate`), and the matching
    slices of input_ids and response_mask, ready for `sft_loss`.

    The language-model head (a 192 x 4,096 matrix for gpt2-tiny, 768 x 50,257 for GPT-2) and the
    log-softmax over the vocabulary cost as much as several transformer layers, yet the SFT loss only
    reads the logits that predict response tokens. Hugging Face causal LMs take `logits_to_keep=k` (the
    last k positions), so we keep from the position before the batch's earliest response token onward.
    The loss and its gradients are exactly those of the full logits (tests/test_train.py checks it).
    The training loop goes one step further (`response_nll`).
    """
    ids, mask = batch["input_ids"], batch["response_mask"]
    T = ids.shape[1]
    if keep is None:
        keep = logits_to_keep(mask)
    logits = model(input_ids=ids, attention_mask=batch["attention_mask"], logits_to_keep=keep).logits
    return logits, ids[:, T - keep:], mask[:, T - keep:]


MASKED_KERNELS = ("sdpa", "eager")     # attention kernels that take our own 4D mask


def _attention_kernel(model) -> str:
    return getattr(model.config, "_attn_implementation", None) or "eager"


def _unsupported_kernel(kernel: str) -> str:
    return (f"packing=True needs an attention implementation that takes a 4D mask ({' or '.join(MASKED_KERNELS)}), "
            f"but the model uses attn_implementation={kernel!r}; load it with attn_implementation='sdpa' "
            f"or pass packing=False")


def attention_mask_for(model, batch: dict) -> torch.Tensor:
    """The attention mask of a `collate_rows` batch, in the form the model's attention kernel takes.

    A 4D mask reaches the kernel as it is (transformers only builds a mask of its own from a 2D one).
    SDPA reads a boolean mask (True = may attend); the eager kernel adds the mask to the scores, so it
    needs 0 / -inf. It is built on the device from `segments`, so no host-device sync; a 2D padding
    mask would cost one, as transformers checks whether it holds any padding.

    The block-diagonal mask is dense: SDPA still computes every pair of tokens in a packed row and then
    discards the pairs across examples. On a GPU, flash-attention's variable-length kernel
    (attn_implementation="flash_attention_2", packed position_ids and no mask: transformers finds where
    the examples start from the positions that restart at 0) skips those blocks altogether; it needs the
    flash-attn package and a GPU, so the course does not use it. Other kernels get the plain padding mask
    when every row holds one example, and packed rows raise.
    """
    kernel = _attention_kernel(model)
    if kernel in MASKED_KERNELS:
        allowed = block_causal_mask(batch["segments"])
        if kernel == "sdpa":
            return allowed
        return torch.zeros(allowed.shape, device=allowed.device).masked_fill(~allowed, float("-inf"))
    if not batch["packed"]:
        return (batch["segments"] >= 0).long()
    raise ValueError(_unsupported_kernel(kernel))


def transformer_body(model):
    """The model without its language-model head (GPT-2: `model.transformer`). A peft model (LoRA) wraps
    the Hugging Face model, and its own `base_model` is the wrapper's, which still ends in the head; so
    unwrap it first. The LoRA layers live inside the body, so they train as usual."""
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model.base_model


def response_nll(model, batch: dict) -> torch.Tensor:
    """Summed -log p of the response tokens of a `collate_rows` batch (padded or packed).

    The transformer body runs on every position; the language-model head, as costly as several layers,
    runs only at the positions that predict a response token (`predict_at`, worked out on the CPU), and
    the loss compares those logits with their `targets`. Dividing by the token count gives exactly
    `sft_loss` on the full logits, gradients included (tests/test_packing.py checks it). As for most
    Hugging Face causal LMs, GPT-2's logits are `lm_head(base_model(...).last_hidden_state)`; a model
    that rescales its logits after the head would need that step here too.
    """
    body = transformer_body(model)
    hidden = body(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                  attention_mask=attention_mask_for(model, batch), use_cache=False).last_hidden_state
    picked = hidden.flatten(0, 1).index_select(0, batch["predict_at"])
    return token_nll(model.get_output_embeddings()(picked), batch["targets"]).sum()


def _to_device(batch: dict, device: torch.device) -> dict:
    """The tensors of a batch on `device` (pinned first on CUDA, so the copy does not block), plus the
    `packed` flag. The Python counts stay behind: they are the CPU's business."""
    pin = device.type == "cuda"
    out = {k: (v.pin_memory() if pin else v).to(device, non_blocking=True)
           for k, v in batch.items() if torch.is_tensor(v)}
    out["packed"] = batch["packed"]
    return out


def micro_batches(examples: list[dict], pad_token_id: int, packing: bool | None,
                  row_tokens: int = PACKED_ROW_TOKENS) -> list[dict]:
    """How one batch of examples is computed, as `collate_rows` batches of the same optimizer step.

    packing=None (the default): length-homogeneous parts (`encode.split_by_length`), each padded to its
    own longest example. packing=True: end to end in rows of at most `row_tokens` tokens. packing=False:
    one batch padded to its longest example. All three give the same loss and gradient, because the
    loop divides every part's summed loss by the whole step's token count; only the padding differs.
    """
    if packing:
        return [collate_packed(examples, pad_token_id, row_tokens)]
    groups = split_by_length([len(e["input_ids"]) for e in examples]) if packing is None else [range(len(examples))]
    return [collate_rows([examples[i] for i in g], [[k] for k in range(len(g))], pad_token_id) for g in groups]


@torch.no_grad()
def validation_loss(model, data, pad_token_id: int, batch_size: int = 32, device=None, amp=None) -> float:
    """Token-weighted response loss over a whole encoded set, in eval mode (the mode is given back).

    `amp` as in `train_sft`: bf16 autocast on a GPU, float32 on the CPU unless asked. The sum stays on
    the device and is read back once, at the end.
    """
    device = torch.device(device or next(model.parameters()).device)
    dtype = _autocast_dtype(device, amp)
    rows = _as_rows(data)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))    # similar lengths: little padding
    total, count = torch.zeros((), device=device), 0
    with eval_mode(model):
        for s in range(0, len(order), batch_size):
            chunk = [rows[i] for i in order[s: s + batch_size]]
            batch = collate_rows(chunk, [[k] for k in range(len(chunk))], pad_token_id)
            count += batch["loss_tokens"]
            with _autocast(device, dtype):
                total += response_nll(model, _to_device(batch, device))
    return total.item() / max(count, 1)


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
    the loss by its share of response tokens. How a batch is computed (`micro_batches`) changes only
    the padding and the speed, never the loss or the gradient:
      packing=None (auto, the default): the way measured fastest, which is to split each batch into
        parts of similar length, padded separately and divided by the whole step's token count;
      packing=True: the examples end to end, one row per batch (up to PACKED_ROW_TOKENS tokens a row),
        each with its own positions and no attention across examples (`encode.collate_packed`);
      packing=False: the whole batch padded to its longest example.
    Measured on notebook 03's mix (gpt2-tiny, batch 8, float32, 2 CPU threads; seconds per optimizer
    step over 30 steps, median and range of six interleaved runs; padding share): split 0.19 s
    (0.18-0.21, 3% padding), packed 0.30 s (0.27-0.33, 2%), padded 0.24 s (0.22-0.27, 27-34%),
    length-grouped 0.18 s (0.14-0.22, 0-2%). Packing pads least but is the slowest on a CPU: the
    block-diagonal mask is dense, so SDPA computes attention over all 1,300 x 1,300 token pairs of the
    row, half of the step's time, and throws most of them away. Auto therefore
    splits, on every device: no GPU has measured the three yet (a GPU with flash-attention's
    variable-length kernel would compute only the blocks on the diagonal; see `attention_mask_for`).
    `group_by_length=True` (not with packing) sorts examples by length into batches: little padding, but
    single-task batches, which re-weights the tasks (notebook 03).
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
    if packing and _attention_kernel(model) not in MASKED_KERNELS:
        raise ValueError(_unsupported_kernel(_attention_kernel(model)))
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
    score = torch.compile(response_nll) if compile else response_nll
    # Under the eager kernel a packed row must fit the context: before transformers 5, GPT-2's eager
    # attention also applies its own causal buffer, n_positions long.
    row_tokens = max(PACKED_ROW_TOKENS, capacity) if _attention_kernel(model) == "sdpa" else capacity

    history = {"step": [], "train_loss": [], "lr": [], "eval": [], "steps": total_steps,
               "examples_seen": 0, "response_tokens": 0, "real_tokens": 0, "padded_tokens": 0}
    batches: list[list[int]] = []
    running = torch.zeros((), device=device)
    running_n = 0

    def evaluate(step):
        record = {"step": step}
        if eval_data is not None:
            record["val_loss"] = validation_loss(model, eval_data, pad_token_id, device=device, amp=amp)
        if eval_fn is not None:
            with eval_mode(model):        # dropout off while measuring; the train mode comes back
                record.update(eval_fn(model))
        model.train()
        history["eval"].append(record)

    t0 = time.time()
    bar = tqdm(range(total_steps), desc="SFT", disable=not progress, mininterval=1.0)
    for step in bar:
        parts = []
        for _ in range(grad_accum):
            if not batches:
                batches = length_grouped_batches(lengths, batch_size, rng, group_by_length)
            examples = [rows[i] for i in batches.pop()]
            history["examples_seen"] += len(examples)
            parts += micro_batches(examples, pad_token_id, packing, row_tokens)
        # Counts come from the CPU side of the batch (Python ints): reading them costs no sync.
        step_tokens = sum(b["loss_tokens"] for b in parts)
        history["response_tokens"] += step_tokens
        for b in parts:
            history["real_tokens"] += b["real_tokens"]
            history["padded_tokens"] += b["input_ids"].numel()
            with _autocast(device, dtype):
                loss = score(model, _to_device(b, device)) / max(step_tokens, 1)
            (scaler.scale(loss) if scaler else loss).backward()
            running += loss.detach()
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
