"""The checkers of notebook 03's exercises: one optimizer step of SFT (check_sft_step), and gradient
accumulation over micro-batches of one step (check_accumulate_grads), each against its reference."""
from __future__ import annotations

import math
import warnings

import torch

from ..loss import sft_loss
from .common import call_student, fail, hints

hints("sft_step",
      "Order the six things by what each needs: the loss needs logits, backward needs the loss, clipping needs "
      "gradients, the step uses them, and clearing must come after the step. `batch` already holds the attention "
      "mask the model needs and the response mask the loss needs.",
      "The shape of the answer: logits = model(input_ids=..., attention_mask=...).logits; loss = sft_loss(logits, "
      "input_ids, response_mask); loss.backward(); clip_grad_norm_(...); optimizer.step(); scheduler.step(); "
      "optimizer.zero_grad(); return loss.item().")
hints("accumulate_grads",
      "backward() adds to .grad, so after the loop .grad holds the sum of every micro-batch's gradient. The "
      "full batch's loss is one sum over all its loss tokens divided by one number: which number, and can you "
      "know it before the first micro-batch runs?",
      "The shape of the answer: count the loss tokens of *all* micro-batches first (response_mask[:, 1:].sum(); "
      "the first token is never predicted), then for each micro-batch: sft_loss(logits, input_ids, "
      "response_mask, normalize=that_total).backward(). No zero_grad inside the loop.")


def reference_sft_step(model, batch, optimizer, scheduler, max_grad_norm: float = 1.0) -> float:
    """forward -> response-masked loss -> backward -> clip -> AdamW step -> schedule step -> clear grads."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = sft_loss(logits, batch["input_ids"], batch["response_mask"])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def _step_case(seed: int):
    """A two-layer GPT-2, its optimizer and schedule, and two batches: the first padded on the left, so that a
    model run without the attention mask lets its real tokens attend to the padding (with right padding a
    causal model's real tokens never see it, and a step that forgets the mask would go unnoticed), the second
    padded on the right, as `collate` pads."""
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=29, n_positions=16, n_embd=16, n_layer=2, n_head=2, bos_token_id=28,
                        eos_token_id=28, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (s + 1))
    g = torch.Generator().manual_seed(seed)
    batches = []
    for left_padded in (True, False):
        ids = torch.randint(0, 29, (3, 9), generator=g)
        mask, attention = torch.zeros_like(ids), torch.zeros_like(ids)
        for b, (prompt, response) in enumerate([(3, 5), (2, 2), (4, 4)]):
            start = 9 - prompt - response if left_padded else 0
            mask[b, start + prompt: start + prompt + response] = 1
            attention[b, start: start + prompt + response] = 1
        batches.append({"input_ids": ids, "attention_mask": attention, "response_mask": mask})
    return model, opt, sched, batches


def _params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _same(a, b, tol: float = 1e-5) -> bool:
    return all(torch.allclose(x, y, atol=tol, rtol=tol) for x, y in zip(a, b))


def _run_steps(step_fn, seed: int, n: int, name: str, max_grad_norm: float):
    model, opt, sched, batches = _step_case(seed)
    out = []
    for batch in batches[:n]:
        with warnings.catch_warnings():
            # A schedule stepped before the optimizer makes PyTorch warn; the checker names that mistake itself.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            loss = call_student(step_fn, model, batch, opt, sched, max_grad_norm, name=name) if name else \
                step_fn(model, batch, opt, sched, max_grad_norm)
        out.append((loss, _params(model), sched.get_last_lr()[0]))
    return out


def _first_loss(seed: int, **how) -> float:
    """The first batch's loss as a usual mistake computes it: without the attention mask, or normalised otherwise."""
    model, _, _, batches = _step_case(seed)
    b = batches[0]
    inputs = {"input_ids": b["input_ids"]} if how.get("no_attention_mask") else \
        {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]}
    with torch.no_grad():
        if how.get("unmasked"):
            return model(**inputs, labels=b["input_ids"]).loss.item()
        return sft_loss(model(**inputs).logits, b["input_ids"], b["response_mask"],
                        normalize=how.get("normalize", "tokens")).item()


def _step_schedule_first(model, batch, optimizer, scheduler, max_grad_norm):
    """The reference step with the schedule advanced before the optimizer step (a usual slip)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = sft_loss(logits, batch["input_ids"], batch["response_mask"])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    scheduler.step()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def check_sft_step(fn) -> None:
    """Check `fn(model, batch, optimizer, scheduler, max_grad_norm) -> float` against the reference step."""
    name = getattr(fn, "__name__", "your function")
    clip = 0.05    # small on purpose: a step without clipping moves the weights visibly differently
    got = _run_steps(fn, 0, 1, name, clip)     # the student's function first: an unwritten stub says so at once
    ref = _run_steps(reference_sft_step, 0, 2, "", clip)
    loss, params, lr = got[0]
    if not isinstance(loss, float):
        raise fail(f"{name} returned {type(loss).__name__}, expected a Python float.",
                   "return loss.item(): a float for logging (holding the tensor would keep the graph alive).")
    if not math.isclose(loss, ref[0][0], rel_tol=1e-4):
        if math.isclose(loss, _first_loss(0, unmasked=True), rel_tol=1e-4):
            raise fail("the loss is computed on every token, prompt included.",
                       "use sft_loss(logits, batch['input_ids'], batch['response_mask']), not model(labels=input_ids).")
        if math.isclose(loss, _first_loss(0, no_attention_mask=True), rel_tol=1e-4):
            raise fail("the model ran without the attention mask: this batch is padded on the left, and its real "
                       "tokens attended to the padding.",
                       "call model(input_ids=batch['input_ids'], attention_mask=batch['attention_mask']). With "
                       "right padding the mistake hides (a causal model's real tokens never see later padding); "
                       "with left padding, or packed rows, it changes every loss.")
        if math.isclose(loss, _first_loss(0, normalize="sequences"), rel_tol=1e-4):
            raise fail("the loss is a mean of per-sequence means: a short response's tokens weigh more than a "
                       "long one's.",
                       "divide the summed loss by the batch's number of response tokens: sft_loss's default "
                       "normalize='tokens'.")
        if math.isclose(loss, _first_loss(0, normalize="sum"), rel_tol=1e-4):
            raise fail("the loss is the sum over response tokens, not their mean: its size grows with the batch.",
                       "use sft_loss's default normalize='tokens' (the sum divided by the number of response tokens).")
        raise fail(f"the loss of the first step is {loss:.4f}, expected {ref[0][0]:.4f}.",
                   "compute the loss before the optimizer step, with sft_loss on the model's logits "
                   "(pass the attention mask to the model too).")
    start = _params(_step_case(0)[0])
    if _same(params, start, tol=0.0):
        raise fail("the weights did not change.",
                   "call loss.backward() and then optimizer.step(), and clear the gradients only before "
                   "backward() or after the step (zero_grad() between them leaves the step nothing to apply).")
    if not _same(params, ref[0][1]):
        no_clip = _run_steps(lambda m, b, o, s, _: reference_sft_step(m, b, o, s, 1e9), 0, 1, "", clip)
        if _same(params, no_clip[0][1]):
            raise fail("the weights moved as if the gradient had not been clipped.",
                       "call torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm) after "
                       "backward() and before optimizer.step() (clipping after the step comes too late), "
                       "with the max_grad_norm your function receives.")
        early = _run_steps(_step_schedule_first, 0, 1, "", clip)
        if _same(params, early[0][1]):
            raise fail("the step used the second learning rate of the schedule: scheduler.step() ran before "
                       "optimizer.step().",
                       "advance the schedule after the optimizer step, so each step uses the rate meant for it.")
        raise fail("after one step the weights differ from the reference step.",
                   "the order is: forward, loss, backward, clip, optimizer.step(), scheduler.step(), zero_grad().")
    if not math.isclose(lr, ref[0][2], rel_tol=1e-9):
        raise fail("the learning rate did not follow the schedule.",
                   "call scheduler.step() once after every optimizer.step().")
    two = _run_steps(fn, 0, 2, name, clip)
    if not _same(two[1][1], ref[1][1]):
        raise fail("the second step is wrong although the first was right: gradients from step 1 leaked into step 2.",
                   "clear them every step with optimizer.zero_grad() (PyTorch adds new gradients to old ones).")
    print(f"{name} looks right: two steps match the reference (loss, attention mask, clipping, schedule, "
          "cleared gradients).")


# ---- gradient accumulation: micro-batches of one optimizer step --------------------------------------------

def reference_accumulate_grads(model, micro_batches) -> None:
    """Backward on every micro-batch so that the summed .grad is the gradient of the whole step's token-mean
    loss: every micro-batch's summed loss is divided by the loss-token count of *all* of them."""
    step_tokens = sum(int(b["response_mask"][:, 1:].sum()) for b in micro_batches)
    for b in micro_batches:
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        sft_loss(logits, b["input_ids"], b["response_mask"], normalize=step_tokens).backward()


# (prompt, response, padding) per row of each micro-batch: micro-batches of different sizes and token counts,
# as `train_sft` cuts a mixed batch by length (one long example alone, several short ones together).
_ACCUM_ROWS = [[(3, 9)], [(2, 2), (3, 1), (2, 3)], [(4, 4), (2, 5)]]


def _accum_case():
    """A two-layer GPT-2 (the step check's) and three right-padded micro-batches of one step."""
    model = _step_case(1)[0]
    g = torch.Generator().manual_seed(1)
    micro_batches = []
    for rows in _ACCUM_ROWS:
        T = max(p + r for p, r in rows) + 1          # one padding position at least in the longest row's batch
        ids = torch.randint(0, 29, (len(rows), T), generator=g)
        mask, attention = torch.zeros_like(ids), torch.zeros_like(ids)
        for b, (prompt, response) in enumerate(rows):
            mask[b, prompt: prompt + response] = 1
            attention[b, : prompt + response] = 1
        micro_batches.append({"input_ids": ids, "attention_mask": attention, "response_mask": mask})
    return model, micro_batches


def _flat_grad(model) -> torch.Tensor | None:
    grads = [p.grad for p in model.parameters()]
    if all(g is None for g in grads):
        return None
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten()
                      for p, g in zip(model.parameters(), grads)]).detach().clone()


def _grad_of(losses_of) -> torch.Tensor:
    """The gradient of sum(losses_of(model, micro_batches)) on a fresh copy of the case."""
    model, micro_batches = _accum_case()
    sum(losses_of(model, micro_batches)).backward()
    return _flat_grad(model)


def _micro_sums(model, micro_batches, unmasked=False):
    """Each micro-batch's summed loss (on the response tokens, or on every real token when unmasked)."""
    for b in micro_batches:
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        yield sft_loss(logits, b["input_ids"], b["attention_mask"] if unmasked else b["response_mask"],
                       normalize="sum")


def _same_direction(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.nn.functional.cosine_similarity(a, b, dim=0).item() > 1 - 1e-5


def check_accumulate_grads(fn) -> None:
    """Check `fn(model, micro_batches)`: after it, every parameter's .grad must be the gradient of the whole
    step's token-mean SFT loss (all micro-batches' summed masked NLL / all their loss tokens)."""
    name = getattr(fn, "__name__", "your function")
    model, micro_batches = _accum_case()
    call_student(fn, model, micro_batches, name=name)
    got = _flat_grad(model)
    counts = [int(b["response_mask"][:, 1:].sum()) for b in micro_batches]
    n_tokens, n_micro = sum(counts), len(micro_batches)
    right = _grad_of(lambda m, mbs: (s / n_tokens for s in _micro_sums(m, mbs)))
    if got is None or not got.abs().sum() > 0:
        raise fail("after your function no parameter has a gradient.",
                   "call .backward() on every micro-batch's loss, outside torch.no_grad(), and do not clear the "
                   "gradients at the end: the optimizer step that follows needs them.")
    if torch.allclose(got, right, rtol=1e-4, atol=1e-7):
        print(f"{name} looks right: over {n_micro} micro-batches of {', '.join(map(str, counts))} loss tokens the "
              f"accumulated gradient equals the full batch's (the {n_tokens} tokens weigh the same).")
        return
    per_micro_mean = _grad_of(lambda m, mbs: (s / c for s, c in zip(_micro_sums(m, mbs), counts)))
    sequences = _grad_of(lambda m, mbs: (_per_sequence_sum(m, b) for b in mbs))
    last_only = _grad_of(lambda m, mbs: [list(_micro_sums(m, mbs))[-1]])
    unmasked = _grad_of(lambda m, mbs: _micro_sums(m, mbs, unmasked=True))
    scale = (got @ right / (right @ right)).item()       # how many times the right gradient, when it points the same way
    if _same_direction(got, per_micro_mean):
        ratio = (got @ per_micro_mean / (per_micro_mean @ per_micro_mean)).item()
        if math.isclose(ratio, 1 / n_micro, rel_tol=1e-3):
            raise fail("this is the mean of the micro-batches' own means (the gradient-accumulation bug of many "
                       "libraries until 2024): each micro-batch was divided by its own token count, then by the "
                       f"number of micro-batches, so a token of the {counts[1]}-token micro-batch weighs "
                       f"{counts[0] / counts[1]:.1f} times a token of the {counts[0]}-token one.",
                       "divide every micro-batch's summed loss by the token count of the whole step, counted "
                       "before the loop; then no division by the number of micro-batches is needed.")
        raise fail("each micro-batch's loss was divided by its own token count (a per-micro-batch mean), so "
                   "tokens in small micro-batches weigh more than tokens in large ones.",
                   "divide by one number for the whole step: the loss tokens of all micro-batches together.")
    if _same_direction(got, right):
        known = {n_micro: ("divided by the number of micro-batches, not by the step's token count",
                           "the micro-batches hold different numbers of tokens; divide by all their loss tokens."),
                 1: ("the summed loss was never divided: the gradient grows with the number of tokens",
                     "divide every micro-batch's summed loss by the whole step's loss-token count."),
                 sum(int(b["attention_mask"].sum()) for b in micro_batches):
                     ("divided by every real token, prompt tokens included, not by the loss tokens",
                      "count only the tokens that carry loss: response_mask[:, 1:].sum() over all micro-batches."),
                 sum(b["input_ids"].numel() for b in micro_batches):
                     ("divided by every position, padding included, not by the loss tokens",
                      "count only the tokens that carry loss: response_mask[:, 1:].sum() over all micro-batches."),
                 sum(int(b["response_mask"].sum()) for b in micro_batches) + len(sum(_ACCUM_ROWS, [])):
                     ("one extra token per example was counted (the EOS is already inside response_mask)",
                      "count the tokens that carry loss, response_mask[:, 1:].sum(), and add nothing.")}
        for divisor, (what, hint) in known.items():
            if math.isclose(scale, n_tokens / divisor, rel_tol=1e-3):
                raise fail(f"the gradient points the right way but is {scale:.3f} times too large: {what}.", hint)
        raise fail(f"the gradient points the right way but is {scale:.3f} times the right size.",
                   f"divide every micro-batch's summed loss by the step's loss-token count ({n_tokens} here).")
    if _same_direction(got, last_only):
        raise fail("only the last micro-batch's gradient is left: the gradients were cleared between "
                   "micro-batches (or backward ran once, after the loop, on the last loss).",
                   "call backward() on every micro-batch and never zero_grad() inside the loop: .grad adds up.")
    if _same_direction(got, sequences):
        raise fail("this is a mean over sequences: every example weighs the same whatever its length, instead "
                   "of every token.",
                   "sum the masked NLL over tokens and divide by the step's loss-token count.")
    if _same_direction(got, unmasked):
        raise fail("the loss counts every token, prompt included.",
                   "mask it with the response mask: sft_loss(logits, input_ids, response_mask, normalize=...).")
    raise fail("the accumulated gradient differs from the full batch's.",
               "for each micro-batch: sft_loss(logits, input_ids, response_mask, normalize=<loss tokens of the whole "
               "step>).backward(); nothing else touches the gradients.")


def _per_sequence_sum(model, batch):
    """The sum, over the micro-batch's sequences, of each sequence's mean loss (one example, one vote)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return sft_loss(logits, batch["input_ids"], batch["response_mask"], normalize="sequences") * batch["input_ids"].shape[0]
