"""The exercise checkers accept the right answer and reject every common mistake, saying which."""
import pytest
import torch

from course_utils.checks import CheckFailed


# check_sft_loss and check_response_mask are tested against their banks of mistakes in
# tests/checker_banks/bank_02.py (tests/test_checker_banks.py).


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
