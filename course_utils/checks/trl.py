"""The checkers of notebook 07's exercises: the loss on a Hugging Face / TRL batch (labels with -100), by
hand (check_labels_loss), and a packed row with the attention rule that keeps its examples apart
(check_pack_row), judged by a tiny GPT-2: each example's loss inside the row must equal its loss alone."""
from __future__ import annotations

import torch

from ..encode import collate
from ..loss import sft_loss, token_nll
from .common import call_student, fail, hints, names_used

hints("labels_loss",
      "Three things decide the number: which logits predict which label (the model predicts the *next* token), "
      "which positions count (a label of -100 is not a target), and what the sum is divided by (one count for "
      "the whole batch, not one per row).",
      "The shape of the answer: targets = labels[:, 1:]; keep = targets != -100; nll = -log_softmax(logits[:, :-1]) "
      "gathered at targets.clamp(min=0); return nll[keep].sum() / keep.sum().")
hints("pack_row",
      "Each example keeps its own tokens and its own mask; what changes when it sits after another one in the "
      "row? Only where it starts. Ask what position its first token had when it was alone.",
      "The shape of the answer: loop over the examples; extend input_ids and response_mask with the example's "
      "lists unchanged, and position_ids with range(len(example['input_ids'])); return three 1-D LongTensors.")
hints("attention_allowed",
      "Two conditions make a pair (query q, key k) allowed: k is not after q, and k belongs to the same example "
      "as q. The position ids tell you where each example starts: at every 0.",
      "The shape of the answer: example = torch.cumsum(position_ids == 0, 0) numbers the examples; "
      "same = example[:, None] == example[None, :]; causal = torch.ones(T, T, dtype=torch.bool).tril(); "
      "return same & causal (row q, column k).")


def _labels_case(seed: int):
    """Logits and labels as TRL's collator makes them: -100 on the prompt and on the right padding."""
    g = torch.Generator().manual_seed(seed)
    B, T, V = 3, 9, 13
    logits = torch.randn(B, T, V, generator=g) * 2
    labels = torch.randint(0, V, (B, T), generator=g)
    for b, (prompt, reply) in enumerate([(2, 5), (4, 2), (1, 7)]):
        labels[b, :prompt] = -100
        labels[b, prompt + reply:] = -100
    return logits, labels


def _labels_mistakes(logits, labels):
    """The value of `labels_loss` under each usual mistake, with the hint that fixes it."""
    targets = labels[:, 1:]
    keep = targets != -100
    nll = token_nll(logits[:, :-1], targets.clamp(min=0))
    unshifted_keep = labels != -100
    wrong_way = labels[:, :-1]
    wrong_way_keep = wrong_way != -100
    raw = -logits[:, :-1].gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    probs = -torch.softmax(logits[:, :-1], -1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    misaligned = labels[:, :-1] != -100
    shift = "the logits at position t predict the token at t+1: compare logits[:, :-1] with labels[:, 1:]."
    return {
        "no shift (the logits at t scored against the label at t)": (
            token_nll(logits, labels.clamp(min=0))[unshifted_keep].mean(), shift),
        "shifted the wrong way (logits[:, 1:] against labels[:, :-1])": (
            token_nll(logits[:, 1:], wrong_way.clamp(min=0))[wrong_way_keep].mean(), shift),
        "per-sequence mean": (torch.stack([nll[b][keep[b]].mean() for b in range(len(labels))]).mean(),
                              "divide the summed loss by the number of target tokens in the whole batch, not "
                              "row by row: every token weighs the same."),
        "counts the -100 positions": ((nll * keep).sum() / keep.numel(),
                                      "divide by the number of labels that are not -100, not by every position."),
        "-100 clamped to token 0 and kept as a target": (
            nll.mean(), "clamp(min=0) only makes gather safe: the positions whose label is -100 must still be "
                        "dropped (keep = labels[:, 1:] != -100) before the mean."),
        "a sum, not a mean": (nll[keep].sum(), "divide the sum by the number of target tokens."),
        "no log_softmax (the raw logit taken as the log-probability)": (
            raw[keep].mean(), "turn the logits into log-probabilities first: torch.log_softmax(logits, dim=-1)."),
        "a probability, not a log-probability": (
            probs[keep].mean(), "the loss is -log p, the log-softmax at the label, not the softmax."),
        "the mask taken from the unshifted labels": (
            (nll * misaligned).sum() / misaligned.sum(),
            "shift the mask with the labels: keep = labels[:, 1:] != -100, the targets themselves."),
    }


# The course's loss and mask code: a labels_loss that calls them returns the right number without the exercise.
BORROWED_LOSS_NAMES = {"sft_loss", "labels_to_mask", "mask_to_labels", "response_nll", "trl_loss"}


def check_labels_loss(fn) -> None:
    """Check `fn(logits, labels) -> scalar tensor`: the mean -log p over the tokens whose label is not
    -100, each predicted by the logits one position earlier (the loss TRL and Hugging Face models compute)."""
    name = getattr(fn, "__name__", "your function")
    borrowed = sorted(names_used(fn) & BORROWED_LOSS_NAMES)
    if borrowed:
        raise fail(f"{name} calls the course's own loss code ({', '.join(borrowed)}): it passes on the course's "
                   "loss, not on yours.",
                   "write the loss from the logits and the labels with torch alone (log_softmax, gather or "
                   "F.cross_entropy): the exercise is to know what a -100 label and the shift do.")
    for seed in range(3):
        logits, labels = _labels_case(seed)
        got = call_student(fn, logits.clone(), labels.clone(), name=name)
        if not torch.is_tensor(got) or got.numel() != 1:
            raise fail(f"{name} returned {got!r:.60}; expected a one-element tensor.",
                       "return the loss itself (a scalar tensor), not a list, a float or a per-token tensor.")
        if got.dtype in (torch.bfloat16, torch.float16):
            raise fail(f"{name} returned a {got.dtype} loss: the log-softmax was computed in half precision.",
                       "compute the log-softmax in float32 (logits.float()), as the course and TRL do.")
        targets = labels[:, 1:]
        keep = targets != -100
        right = token_nll(logits[:, :-1], targets.clamp(min=0))[keep].mean()
        if abs(got.item() - right.item()) < 1e-5:
            continue
        for what, (value, hint) in _labels_mistakes(logits, labels).items():
            if abs(got.item() - value.item()) < 1e-5:
                raise fail(f"{name} gives {got.item():.4f}, the value of a loss with this mistake: {what}.", hint)
        low = -torch.log_softmax(logits[:, :-1].bfloat16(), -1).gather(-1, targets.clamp(min=0).unsqueeze(-1))
        if abs(got.item() - low.squeeze(-1)[keep].float().mean().item()) < 1e-2:
            raise fail(f"{name} gives {got.item():.4f}, near the right {right.item():.4f} but not equal to float "
                       "rounding: the log-softmax looks computed in bfloat16 or float16.",
                       "compute it in float32 (logits.float()) even when the model runs in bf16.")
        raise fail(f"{name} gives {got.item():.4f} on a small batch; the right value is {right.item():.4f}.",
                   "shift (logits[:, :-1] against labels[:, 1:]), take -log_softmax at the label, keep only "
                   "labels != -100, and divide the sum by their count.")
    print(f"{name} looks right: shifted, -100 skipped, one mean over every target token of the batch.")


# ---- Exercise 7.2: a packed row and its attention rule ------------------------------------------------------
EOS_ID, VOCAB = 28, 29
# Examples as encode_example makes them (prompt tokens, response tokens, EOS last; response_mask 1 on the
# response and the EOS), of different lengths so that every seam falls somewhere else.
PACK_CASES = [
    [([3, 4, 5, 6, 7, EOS_ID], [0, 0, 0, 1, 1, 1]),
     ([9, 10, 11, 12, 13, 14, EOS_ID], [0, 0, 1, 1, 1, 1, 1]),
     ([15, 16, 17, 18, EOS_ID], [0, 0, 0, 1, 1])],
    [([20, 21, 22, 23, EOS_ID], [0, 0, 1, 1, 1]),
     ([1, 2, 3, 4, 5, 6, 7, 8, EOS_ID], [0, 0, 0, 0, 1, 1, 1, 1, 1]),
     ([11, 12, 13, 14, 15, 16, EOS_ID], [0, 0, 0, 1, 1, 1, 1]),
     ([24, 25, 26, EOS_ID], [0, 1, 1, 1])],
]


def _examples(case: list) -> list[dict]:
    return [{"input_ids": list(ids), "response_mask": list(mask)} for ids, mask in case]


def reference_pack_row(examples: list[dict]) -> dict:
    """The examples end to end in one row: their tokens and masks unchanged, positions restarting at 0."""
    row = collate(examples, pad_token_id=EOS_ID, rows=[list(range(len(examples)))])
    return {k: row[k][0] for k in ("input_ids", "position_ids", "response_mask")}


def reference_attention_allowed(position_ids: torch.Tensor) -> torch.Tensor:
    """allowed[q, k]: token q may attend to token k when k is not after q and both are in the same example
    (an example starts wherever the position is 0)."""
    position_ids = torch.as_tensor(position_ids)
    example = torch.cumsum(position_ids == 0, 0)
    causal = torch.ones(len(position_ids), len(position_ids), dtype=torch.bool).tril()
    return (example[:, None] == example[None, :]) & causal


_MODEL = None


def _tiny_gpt2():
    """A two-layer GPT-2 with large random weights (so attending across a seam moves a loss visibly)."""
    global _MODEL
    if _MODEL is None:
        from transformers import GPT2Config, GPT2LMHeadModel
        state = torch.random.get_rng_state()
        torch.manual_seed(7)
        config = GPT2Config(vocab_size=VOCAB, n_positions=40, n_embd=16, n_layer=2, n_head=2, bos_token_id=EOS_ID,
                            eos_token_id=EOS_ID, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                            initializer_range=0.3)
        _MODEL = GPT2LMHeadModel(config).eval()
        _MODEL.set_attn_implementation("eager")
        torch.random.set_rng_state(state)      # the student's notebook keeps its own random stream
    return _MODEL


def losses_alone(examples: list[dict]) -> list[float]:
    """Each example's sft_loss in a right-padded batch, one example per row: the oracle a packed row must match."""
    batch = collate(examples, pad_token_id=EOS_ID)
    with torch.no_grad():
        logits = _tiny_gpt2()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return [sft_loss(logits[b:b + 1], batch["input_ids"][b:b + 1], batch["response_mask"][b:b + 1]).item()
            for b in range(len(examples))]


def losses_in_row(examples: list[dict], row: dict, allowed: torch.Tensor) -> list[float]:
    """Each example's sft_loss read from one forward pass over the packed row, with the row's positions and
    `allowed` turned into an additive attention mask (0 where allowed, the lowest float elsewhere)."""
    ids = row["input_ids"][None]
    additive = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)[None, None]
    with torch.no_grad():
        logits = _tiny_gpt2()(input_ids=ids, position_ids=row["position_ids"][None], attention_mask=additive,
                              use_cache=False).logits
    out, start = [], 0
    for e in examples:
        end = start + len(e["input_ids"])
        out.append(sft_loss(logits[:, start:end], ids[:, start:end], row["response_mask"][None, start:end]).item())
        start = end
    return out


def _as_row(value, name: str, what: str, length: int) -> torch.Tensor:
    try:
        t = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise fail(f"{name}'s {what} is a {type(value).__name__} that is not one row of numbers.",
                   "return torch.tensor(a_flat_list) for each of input_ids, position_ids and response_mask.") from None
    if t.dim() == 2 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 1 or len(t) != length:
        raise fail(f"{name}'s {what} has shape {tuple(t.shape)}; the row has {length} tokens, so expected ({length},).",
                   "one flat row: the examples end to end, not a list of examples or a padded batch.")
    if t.is_floating_point():
        raise fail(f"{name}'s {what} holds floats ({t.dtype}).", "token ids, positions and masks are integers: "
                   "torch.tensor(..., dtype=torch.long).")
    return t.long()


def _by_example(values: torch.Tensor, examples: list[dict]) -> list[torch.Tensor]:
    out, start = [], 0
    for e in examples:
        out.append(values[start:start + len(e["input_ids"])])
        start += len(e["input_ids"])
    return out


def _diagnose_row(got: dict, want: dict, examples: list[dict]) -> tuple[str, str] | None:
    """Name the mistake in a packed row whose positions or mask differ from the reference."""
    pos, ref_pos = got["position_ids"], want["position_ids"]
    mask, ref_mask = got["response_mask"], want["response_mask"]
    if not torch.equal(pos, ref_pos):
        if torch.equal(pos, torch.arange(len(pos))):
            return ("the positions do not restart at each example: they run 0, 1, 2, ... across the whole row",
                    "every example's first token gets position 0, as it had alone: extend position_ids with "
                    "range(len(example['input_ids'])) for each example.")
        if torch.equal(pos, ref_pos + 1):
            return ("the positions are off by one: each example starts at position 1, not 0",
                    "alone, an example's first token sits at position 0: use range(n), not range(1, n + 1).")
        if sorted(pos.tolist()) == sorted(ref_pos.tolist()) or (pos == 0).sum() == (ref_pos == 0).sum():
            return ("a seam is off by one: position 0 does not fall on the first token of each example",
                    "restart the count exactly where the next example's tokens begin (after the EOS of the one "
                    "before).")
        return ("the positions differ from each example's positions alone",
                "each example's tokens get positions 0, 1, ..., n-1, whatever comes before it in the row.")
    if not torch.equal(mask, ref_mask):
        eos = torch.zeros_like(ref_mask, dtype=torch.bool)
        eos[torch.tensor([sum(len(e["input_ids"]) for e in examples[:k + 1]) - 1 for k in range(len(examples))])] = True
        if torch.equal(mask, ref_mask.masked_fill(eos, 0)):
            return ("the EOS that ends each example is not supervised (its mask is 0)",
                    "keep each example's response_mask as it is: 1 on the response and on its EOS, so the model "
                    "learns to stop.")
        if torch.equal(mask[1:], ref_mask[:-1]) or torch.equal(mask[:-1], ref_mask[1:]):
            return ("the response mask is shifted by one position against the tokens",
                    "the mask lines up with input_ids, token for token; the shift happens in the loss, not here.")
        got_parts, want_parts = _by_example(mask, examples), _by_example(ref_mask, examples)
        if torch.equal(got_parts[0], want_parts[0]) and all(not p.any() for p in got_parts[1:]):
            return ("the response mask is lost after the first seam: the later examples have no targets",
                    "extend response_mask with each example's own mask, for every example of the row.")
        if mask.all():
            return ("every token is a target, the prompts too",
                    "use each example's response_mask, not ones: the prompt is context, not a target.")
        return ("the response mask differs from the examples' masks laid end to end",
                "response_mask is each example's mask, unchanged, in the order of the examples.")
    return None


def _describe_pair(q: int, k: int, allowed: bool, example: torch.Tensor) -> str:
    where = ("the same example" if example[q] == example[k]
             else f"example {int(example[k]) + 1}, not {int(example[q]) + 1}")      # numbered from 1, as printed
    order = "after" if k > q else "before" if k < q else "at"
    return (f"allowed[{q}, {k}] is {allowed}, but token {k} is {order} token {q}"
            + ("" if k == q else f" and in {where}"))


def _diagnose_attention(allowed: torch.Tensor, position_ids: torch.Tensor) -> tuple[str, str]:
    want = reference_attention_allowed(position_ids)
    T = len(position_ids)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    example = torch.cumsum(position_ids == 0, 0) - 1
    same = example[:, None] == example[None, :]
    named = [
        (causal, "attention crosses the seams: a token sees the examples before it (a plain causal mask)",
         "also require that the key is in the same example as the query: number the examples from the 0s of "
         "position_ids and compare."),
        (same, "not causal: within its example a token sees the tokens after it, its own answer included",
         "also require k <= q (a lower-triangular matrix, .tril()): the model may not look ahead."),
        (want.T, "the matrix is transposed: row q should hold what token q may look at (keys k <= q)",
         "allowed[q, k] with q the row (query) and k the column (key): lower triangle, not upper."),
        (want & ~torch.eye(T, dtype=torch.bool), "a token is not allowed to attend to itself",
         "the diagonal belongs in: token q attends to k <= q, k = q included."),
        (torch.ones(T, T, dtype=torch.bool), "every token sees every other, across examples and ahead",
         "two conditions: the same example, and k <= q."),
    ]
    for wrong, what, hint in named:
        if torch.equal(allowed, wrong):
            return what, hint
    wrongly_allowed, wrongly_refused = (allowed & ~want).nonzero(), (~allowed & want).nonzero()
    q, k = (wrongly_allowed if len(wrongly_allowed) else wrongly_refused)[0].tolist()   # a leak first
    return (f"{_describe_pair(q, k, bool(allowed[q, k]), example)}",
            "token q may attend to token k exactly when k <= q and both are in the same example "
            "(an example starts at every position 0).")


def _check_allowed_value(allowed, T: int, name: str) -> torch.Tensor:
    if not torch.is_tensor(allowed):
        raise fail(f"{name} returned a {type(allowed).__name__}; expected a torch bool tensor of shape ({T}, {T}).",
                   "build it with torch operations on position_ids (==, [:, None], .tril()).")
    if allowed.dim() == 4 and allowed.shape[:2] == (1, 1):
        raise fail(f"{name} returned shape {tuple(allowed.shape)}, a model-ready 4-D mask; expected ({T}, {T}).",
                   "return the plain (T, T) matrix: the checker turns it into the model's mask.")
    if tuple(allowed.shape) != (T, T):
        raise fail(f"{name} returned shape {tuple(allowed.shape)} for a row of {T} tokens; expected ({T}, {T}).",
                   "one row and one column per token: allowed[q, k] for query q and key k.")
    if allowed.dtype != torch.bool:
        hint = ("return True where attention is allowed, not an additive mask of 0 and -inf."
                if allowed.is_floating_point() and (allowed < 0).any() else "compare or combine with & to get bools.")
        raise fail(f"{name} returned a {allowed.dtype} matrix; expected torch.bool (True = may attend).", hint)
    return allowed


def _losses_text(got: list[float], want: list[float]) -> str:
    k = max(range(len(got)), key=lambda i: abs(got[i] - want[i]))
    return f"example {k + 1}'s loss in the row is {got[k]:.4f}, alone {want[k]:.4f}"


def check_pack_row(pack_row, attention_allowed) -> None:
    """Check `pack_row(examples) -> {"input_ids", "position_ids", "response_mask"}` (one flat row) and
    `attention_allowed(position_ids) -> bool (T, T)`: on a tiny GPT-2, each example's loss inside the packed
    row (its positions, the attention rule as the mask) must equal its loss padded alone."""
    pack_name = getattr(pack_row, "__name__", "pack_row")
    attend_name = getattr(attention_allowed, "__name__", "attention_allowed")
    for case in PACK_CASES:
        examples = _examples(case)
        got = call_student(pack_row, _examples(case), name=pack_name)
        T = sum(len(e["input_ids"]) for e in examples)
        if not isinstance(got, dict) or not {"input_ids", "position_ids", "response_mask"} <= set(got):
            raise fail(f"{pack_name} returned {type(got).__name__} {str(got)[:60]}; expected a dict with input_ids, "
                       "position_ids and response_mask.", "return dict(input_ids=..., position_ids=..., "
                       "response_mask=...), each a 1-D tensor over the whole row.")
        want = reference_pack_row(examples)
        ids = got["input_ids"]
        if torch.is_tensor(ids) and ids.dim() == 1 and len(ids) == T - len(examples):
            raise fail(f"{pack_name}'s input_ids has {len(ids)} tokens for examples of {T} in all: the EOS of each "
                       "example is left out.", "keep every token of every example, its EOS included: the EOS "
                       "is a target, and it is what tells the model the example ends.")
        row = {k: _as_row(got[k], pack_name, k, T) for k in ("input_ids", "position_ids", "response_mask")}
        if not torch.equal(row["input_ids"], want["input_ids"]):
            raise fail(f"{pack_name}'s input_ids are not the examples' tokens end to end in the order given.",
                       "concatenate each example's input_ids as it is, first example first.")
        alone = losses_alone(examples)
        in_row = losses_in_row(examples, row, reference_attention_allowed(want["position_ids"]))
        if max(abs(a - b) for a, b in zip(alone, in_row)) > 1e-5:
            what, hint = _diagnose_row(row, want, examples) or ("the row differs from the examples laid end to end",
                                                                 "tokens, masks unchanged; positions restart at 0.")
            raise fail(f"{pack_name}: {what}; {_losses_text(in_row, alone)}.", hint)

        allowed = call_student(attention_allowed, want["position_ids"].clone(), name=attend_name)
        allowed = _check_allowed_value(allowed, T, attend_name)
        in_row = losses_in_row(examples, want, allowed)
        if max(abs(a - b) for a, b in zip(alone, in_row)) > 1e-5 or not torch.equal(
                allowed, reference_attention_allowed(want["position_ids"])):
            what, hint = _diagnose_attention(allowed, want["position_ids"])
            raise fail(f"{attend_name}: {what}; {_losses_text(in_row, alone)}.", hint)

        both = losses_in_row(examples, row, _check_allowed_value(
            call_student(attention_allowed, row["position_ids"].clone(), name=attend_name), T, attend_name))
        if max(abs(a - b) for a, b in zip(alone, both)) > 1e-5:     # each right alone, not together
            raise fail(f"{attend_name} on {pack_name}'s positions: {_losses_text(both, alone)}.",
                       "make attention_allowed read the seams from the positions pack_row returns (a new example "
                       "at every 0).")
    print(f"{pack_name} and {attend_name} look right: in packed rows of {len(PACK_CASES[0])} and "
          f"{len(PACK_CASES[1])} examples, each example's loss on a tiny GPT-2 equals its loss padded alone "
          "(within 1e-5).")
