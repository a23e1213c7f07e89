"""Notebook 03's checkers: check_sft_step (one optimizer step) and check_accumulate_grads (gradient
accumulation over the micro-batches of one step), each against the mistakes people make writing them."""
import torch

from course_utils.checks import check_accumulate_grads, check_sft_step
from course_utils.loss import sft_loss

from . import Bank, Mutant


# ---- one SFT step ----------------------------------------------------------------------------------------
def _step(model, batch, opt, sched, max_grad_norm=1.0, *, clip="before step", zero="last", schedule="after step",
          loss_on="response", normalize="tokens", attention=True, returns="float", step=True):
    inputs = {"input_ids": batch["input_ids"]}
    if attention:
        inputs["attention_mask"] = batch["attention_mask"]
    if loss_on == "every token":
        loss = model(**inputs, labels=batch["input_ids"]).loss
    else:
        loss = sft_loss(model(**inputs).logits, batch["input_ids"], batch["response_mask"], normalize=normalize)
    if returns == "float before backward":
        loss = loss.item()
    if zero == "first":
        opt.zero_grad()
    loss.backward()
    if zero == "between backward and step":
        opt.zero_grad()
    if clip == "before step":
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if schedule == "before step":
        sched.step()
    if step:
        opt.step()
    if clip == "after step":
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if schedule == "after step":
        sched.step()
    if zero == "last":
        opt.zero_grad()
    return loss.item() if returns == "float" else loss


def right_step(model, batch, opt, sched, max_grad_norm=1.0):
    return _step(model, batch, opt, sched, max_grad_norm)


def _mutant(says, **how):
    return Mutant(lambda model, batch, opt, sched, max_grad_norm=1.0: _step(model, batch, opt, sched, max_grad_norm,
                                                                            **how), says)


def _stub(model, batch, opt, sched, max_grad_norm=1.0):
    raise NotImplementedError


STEP_MUTANTS = {
    "no clipping": _mutant("not been clipped", clip=None),
    "clipping after the optimizer step": _mutant("not been clipped", clip="after step"),
    "no zero_grad": _mutant("leaked into step 2", zero=None),
    "zero_grad between backward and step": _mutant("did not change", zero="between backward and step"),
    "schedule not stepped": _mutant("did not follow the schedule", schedule=None),
    "schedule stepped before the optimizer": _mutant("scheduler.step\\(\\) ran before optimizer.step", schedule="before step"),
    "loss on every token (model(labels=input_ids))": _mutant("prompt included", loss_on="every token"),
    "no attention mask": _mutant("without the attention mask", attention=False),
    "mean of per-sequence means": _mutant("per-sequence means", normalize="sequences"),
    "summed loss, not divided": _mutant("sum over response tokens, not their mean", normalize="sum"),
    "returns the loss tensor": _mutant("expected a Python float", returns="tensor"),
    "loss.item() before backward": _mutant("'float' object has no attribute 'backward'", returns="float before backward"),
    "no optimizer step": _mutant("did not change", step=False),
    "not written": Mutant(_stub, "not written yet"),
}


# ---- gradient accumulation -------------------------------------------------------------------------------
def right_accumulate(model, micro_batches):
    step_tokens = sum(int(b["response_mask"][:, 1:].sum()) for b in micro_batches)
    for b in micro_batches:
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        sft_loss(logits, b["input_ids"], b["response_mask"], normalize=step_tokens).backward()


def _accumulate(loss_of, *, zero_between=False, backward_after_loop=False, zero_at_end=False):
    """A whole accumulate_grads built from `loss_of(model, batch, batches)`: the loss of one micro-batch."""
    def accumulate_grads(model, micro_batches):
        loss = None
        for b in micro_batches:
            if zero_between:
                model.zero_grad()
            loss = loss_of(model, b, micro_batches)
            if not backward_after_loop:
                loss.backward()
        if backward_after_loop:
            loss.backward()
        if zero_at_end:
            model.zero_grad(set_to_none=True)
    return accumulate_grads


def _logits(model, b):
    return model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits


def _masked(model, b, normalize):
    return sft_loss(_logits(model, b), b["input_ids"], b["response_mask"], normalize=normalize)


def _total(bs, count):
    return sum(int(count(b)) for b in bs)


ACCUMULATE_MUTANTS = {
    "mean of micro-batch means (the 2024 bug)": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, "tokens") / len(bs)), "mean of the micro-batches' own means"),
    "each micro-batch's own token mean, summed": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, "tokens")), "divided by its own token count"),
    "divided by the number of micro-batches": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, "sum") / len(bs)), "divided by the number of micro-batches"),
    "no division": Mutant(_accumulate(lambda m, b, bs: _masked(m, b, "sum")), "never divided"),
    "prompt tokens counted (attention_mask.sum())": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, _total(bs, lambda x: x["attention_mask"].sum()))),
        "prompt tokens included"),
    "padding counted (input_ids.numel())": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, _total(bs, lambda x: x["input_ids"].numel()))),
        "padding included"),
    "an EOS added per example to the count": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, _total(bs, lambda x: x["response_mask"].sum() + x["input_ids"].shape[0]))),
        "one extra token per example"),
    "zero_grad between micro-batches": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, _total(bs, lambda x: x["response_mask"][:, 1:].sum())),
                    zero_between=True), "only the last micro-batch's gradient"),
    "backward once, after the loop": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, _total(bs, lambda x: x["response_mask"][:, 1:].sum())),
                    backward_after_loop=True), "only the last micro-batch's gradient"),
    "one vote per sequence": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, "sequences") * b["input_ids"].shape[0]
                    / _total(bs, lambda x: x["input_ids"].shape[0])), "mean over sequences"),
    "loss on every token": Mutant(
        _accumulate(lambda m, b, bs: sft_loss(_logits(m, b), b["input_ids"], b["attention_mask"],
                                              normalize=_total(bs, lambda x: x["attention_mask"][:, 1:].sum()))),
        "prompt included"),
    "gradients cleared at the end": Mutant(
        _accumulate(lambda m, b, bs: _masked(m, b, _total(bs, lambda x: x["response_mask"][:, 1:].sum())),
                    zero_at_end=True), "no parameter has a gradient"),
    "not written": Mutant(lambda model, micro_batches: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
}

BANKS = [Bank("check_sft_step", check_sft_step, right_step, STEP_MUTANTS),
         Bank("check_accumulate_grads", check_accumulate_grads, right_accumulate, ACCUMULATE_MUTANTS)]
