"""The checker of notebook 03's exercise: one optimizer step of SFT, against the reference step."""
from __future__ import annotations

import math

import torch

from ..loss import sft_loss
from .common import call_student, fail


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
    """A two-layer GPT-2, its optimizer and schedule, and two right-padded batches."""
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
    for _ in range(2):
        ids = torch.randint(0, 29, (3, 9), generator=g)
        mask, attention = torch.zeros_like(ids), torch.zeros_like(ids)
        for b, (prompt, response) in enumerate([(3, 5), (2, 2), (4, 4)]):
            mask[b, prompt: prompt + response] = 1
            attention[b, : prompt + response] = 1
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
        loss = call_student(step_fn, model, batch, opt, sched, max_grad_norm, name=name) if name else \
            step_fn(model, batch, opt, sched, max_grad_norm)
        out.append((loss, _params(model), sched.get_last_lr()[0]))
    return out


def check_sft_step(fn) -> None:
    """Check `fn(model, batch, optimizer, scheduler, max_grad_norm) -> float` against the reference step."""
    name = getattr(fn, "__name__", "your function")
    clip = 0.05    # small on purpose: a step without clipping moves the weights visibly differently
    ref = _run_steps(reference_sft_step, 0, 2, "", clip)
    got = _run_steps(fn, 0, 1, name, clip)
    loss, params, lr = got[0]
    if not isinstance(loss, float):
        raise fail(f"{name} returned {type(loss).__name__}, expected a Python float.",
                   "return loss.item(): a float for logging (holding the tensor would keep the graph alive).")
    if not math.isclose(loss, ref[0][0], rel_tol=1e-4):
        model, _, _, batches = _step_case(0)
        b = batches[0]
        unmasked = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["input_ids"]).loss.item()
        if math.isclose(loss, unmasked, rel_tol=1e-4):
            raise fail("the loss is computed on every token, prompt included.",
                       "use sft_loss(logits, batch['input_ids'], batch['response_mask']), not model(labels=input_ids).")
        raise fail(f"the loss of the first step is {loss:.4f}, expected {ref[0][0]:.4f}.",
                   "compute the loss before the optimizer step, with sft_loss on the model's logits "
                   "(pass the attention mask to the model too).")
    start = _params(_step_case(0)[0])
    if _same(params, start, tol=0.0):
        raise fail("the weights did not change.", "call loss.backward() and then optimizer.step().")
    if not _same(params, ref[0][1]):
        no_clip = _run_steps(lambda m, b, o, s, _: reference_sft_step(m, b, o, s, 1e9), 0, 1, "", clip)
        if _same(params, no_clip[0][1]):
            raise fail("the weights moved as if the gradient had not been clipped.",
                       "call torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm) after "
                       "backward() and before optimizer.step().")
        raise fail("after one step the weights differ from the reference step.",
                   "the order is: forward, loss, backward, clip, optimizer.step(), scheduler.step(), zero_grad().")
    if not math.isclose(lr, ref[0][2], rel_tol=1e-9):
        raise fail("the learning rate did not follow the schedule.",
                   "call scheduler.step() once after every optimizer.step().")
    two = _run_steps(fn, 0, 2, name, clip)
    if not _same(two[1][1], ref[1][1]):
        raise fail("the second step is wrong although the first was right: gradients from step 1 leaked into step 2.",
                   "clear them every step with optimizer.zero_grad() (PyTorch adds new gradients to old ones).")
    print(f"{name} looks right: two steps match the reference (loss, clipping, schedule, cleared gradients).")
