"""The exercise checkers accept the right answer and reject every common mistake, saying which."""
import pytest
import torch

from course_utils.checks import CheckFailed, check_response_mask, check_sft_loss


def right_loss(logits, ids, mask):
    logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    m = mask[:, 1:].float()
    return -(logp * m).sum() / m.sum().clamp(min=1)


def _parts(logits, ids, mask):
    logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return logp, mask[:, 1:].float()


WRONG_LOSSES = {
    "no shift": (lambda l, i, m: -(torch.log_softmax(l, -1).gather(-1, i[..., None]).squeeze(-1) * m).sum() / m.sum(),
                 "no shift"),
    "mask not shifted": (lambda l, i, m: -(_parts(l, i, m)[0] * m[:, :-1]).sum() / m[:, :-1].sum(),
                         "mask shifted the wrong way"),
    "mask ignored": (lambda l, i, m: -_parts(l, i, m)[0].mean(), "padding counted"),
    "per-sequence mean": (lambda l, i, m: (-(_parts(l, i, m)[0] * _parts(l, i, m)[1]).sum(1)
                                           / _parts(l, i, m)[1].sum(1)).mean(), "per-sequence mean"),
    "sum": (lambda l, i, m: -(_parts(l, i, m)[0] * _parts(l, i, m)[1]).sum(), "sum instead of mean"),
    "numel": (lambda l, i, m: -(_parts(l, i, m)[0] * _parts(l, i, m)[1]).sum() / m[:, 1:].numel(),
              "divided by every position"),
    "raw logits": (lambda l, i, m: -(l[:, :-1].gather(-1, i[:, 1:, None]).squeeze(-1) * m[:, 1:]).sum() / m[:, 1:].sum(),
                   "no log-softmax"),
    "sign": (lambda l, i, m: -right_loss(l, i, m), "sign flipped"),
    "probabilities": (lambda l, i, m: -(_parts(l, i, m)[0].exp() * _parts(l, i, m)[1]).sum() / _parts(l, i, m)[1].sum(),
                      "expected"),
    "softmax over time": (lambda l, i, m: -(torch.log_softmax(l[:, :-1], 1).gather(-1, i[:, 1:, None]).squeeze(-1)
                                            * m[:, 1:]).sum() / m[:, 1:].sum(), "expected"),
    "nan on empty batch": (lambda l, i, m: -(_parts(l, i, m)[0] * _parts(l, i, m)[1]).sum() / _parts(l, i, m)[1].sum(),
                           "no response tokens"),
    "detached": (lambda l, i, m: right_loss(l, i, m).detach(), "no gradient"),
    "python float": (lambda l, i, m: right_loss(l, i, m).item(), "scalar tensor"),
    "per-token vector": (lambda l, i, m: -(_parts(l, i, m)[0] * _parts(l, i, m)[1]), "scalar tensor"),
    "crashes": (lambda l, i, m: l @ i, "raised"),
    "not written": (lambda l, i, m: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
}


def test_right_loss_is_accepted(capsys):
    check_sft_loss(right_loss)
    assert capsys.readouterr().out.startswith("✓ right_loss is right")


@pytest.mark.parametrize("mistake", WRONG_LOSSES)
def test_every_wrong_loss_is_rejected_with_its_name(mistake):
    fn, message = WRONG_LOSSES[mistake]
    with pytest.raises(CheckFailed, match=message) as err:
        check_sft_loss(fn)
    assert "Hint:" in str(err.value)
    assert isinstance(err.value, AssertionError)


def right_mask(tok, prompt, response):
    p = tok(prompt)["input_ids"]
    r = tok(response)["input_ids"] + [tok.eos_token_id]
    return p + r, [0] * len(p) + [1] * len(r)


def _from(tok, prompt, response, how):
    p = tok(prompt)["input_ids"]
    r = tok(response)["input_ids"]
    e = [tok.eos_token_id]
    return {
        "no eos": (p + r, [0] * len(p) + [1] * len(r)),
        "eos unmasked": (p + r + e, [0] * len(p) + [1] * len(r) + [0]),
        "prompt masked": (p + r + e, [1] * (len(p) + len(r) + 1)),
        "inverted": (p + r + e, [1] * len(p) + [0] * (len(r) + 1)),
        "one late": (p + r + e, [0] * (len(p) + 1) + [1] * len(r)),
        "one early": (p + r + e, [0] * (len(p) - 1) + [1] * (len(r) + 2)),
        "joint": (tok(prompt + response)["input_ids"] + e, None),
        "short mask": (p + r + e, [0] * len(p) + [1] * len(r)),
        "ids only": p + r + e,
    }[how]


WRONG_MASKS = {
    "no eos": "does not end the sequence with EOS",
    "eos unmasked": "leaves the final EOS out of the mask",
    "prompt masked": "marks the prompt as well",
    "inverted": "mask inverted",
    "one late": "mask starts at token",
    "one early": "mask starts at token",
    "joint": "tokenised prompt \\+ response as one string",
    "short mask": "ids but a mask of",
    "ids only": "should return \\(input_ids, response_mask\\)",
}


def test_right_mask_is_accepted(tokenizer, capsys):
    check_response_mask(right_mask, tokenizer)
    assert capsys.readouterr().out.startswith("✓ right_mask is right")


@pytest.mark.parametrize("mistake", WRONG_MASKS)
def test_every_wrong_mask_is_rejected_with_its_name(mistake, tokenizer):
    def wrong(tok, prompt, response):
        out = _from(tok, prompt, response, mistake)
        if mistake == "joint":   # joint ids, mask counted from the prompt's own length
            ids, n_prompt = out[0], len(tok(prompt)["input_ids"])
            return ids, [0] * n_prompt + [1] * (len(ids) - n_prompt)
        return out
    with pytest.raises(CheckFailed, match=WRONG_MASKS[mistake]):
        check_response_mask(wrong, tokenizer)


# ---- the training-step exercise of notebook 03: right steps the checker must accept ------------------------------------------------------
def _step(model, batch, opt, sched, max_grad_norm=1.0, *, clip=True, zero=True, schedule=True, masked=True,
          step=True, as_float=True):
    from course_utils.loss import sft_loss
    if masked:
        loss = sft_loss(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                        batch["input_ids"], batch["response_mask"])
    else:
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["input_ids"]).loss
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if step:
        opt.step()
    if schedule and step:
        sched.step()
    if zero:
        opt.zero_grad()
    return loss.item() if as_float else loss


def test_step_checker_accepts_a_right_step_with_zero_grad_first_or_last(capsys):
    from course_utils.checks import check_sft_step

    def zero_first(model, batch, opt, sched, max_grad_norm=1.0):
        opt.zero_grad()
        return _step(model, batch, opt, sched, max_grad_norm, zero=False)
    check_sft_step(lambda *a: _step(*a))
    check_sft_step(zero_first)
    assert capsys.readouterr().out.count("looks right") == 2


# The step's mistakes (no clipping, no attention mask, schedule first, ...) are in tests/checker_banks/bank_03.py.


# ---- the package: one module per notebook, every checker importable from course_utils.checks ----------
def test_every_checker_is_exported_from_the_package():
    import importlib
    import pkgutil

    import course_utils.checks as checks
    found = {}
    for module in pkgutil.iter_modules(checks.__path__):
        defined = importlib.import_module(f"course_utils.checks.{module.name}")
        found.update({name: getattr(defined, name) for name in vars(defined)
                      if name.startswith("check_") and getattr(defined, name).__module__ == defined.__name__})
    assert len(found) >= 9
    for name, fn in found.items():
        assert getattr(checks, name, None) is fn and name in checks.__all__, f"{name} is not re-exported"
    assert checks.CheckFailed is importlib.import_module("course_utils.checks.common").CheckFailed


def test_every_checker_a_notebook_imports_exists():
    import json
    import re
    from pathlib import Path

    import course_utils.checks as checks
    notebooks = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("**/[0-9][0-9]_*.ipynb"))
    imported = set()
    for path in notebooks:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for names in re.findall(r"from course_utils\.checks import ([\w, ]+)", "".join(cell["source"])):
                imported |= {n.strip() for n in names.split(",")}
    assert imported, "no notebook imports a checker"
    assert not [n for n in imported if not hasattr(checks, n)]
