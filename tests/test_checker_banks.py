"""Every exercise checker against its bank of plausible mistakes (tests/checker_banks/): the right
implementation passes, at least 95% of the mistakes are rejected, and each rejection names its mistake.
The rejection rate of every checker is printed at the end of the run ("checker banks" in the summary)."""
import importlib
import re
from pathlib import Path

import pytest

import course_utils.checks as checks
from course_utils.checks import CheckFailed
from checker_banks import Bank

BANK_DIR = Path(__file__).with_name("checker_banks")
BANKS: list[Bank] = [bank for path in sorted(BANK_DIR.glob("bank_*.py"))
                     for bank in importlib.import_module(f"checker_banks.{path.stem}").BANKS]


def test_every_checker_has_a_bank():
    checkers = {name for name in checks.__all__ if name.startswith("check_")}
    assert checkers <= {bank.checker for bank in BANKS}, f"no bank for {sorted(checkers - {b.checker for b in BANKS})}"


@pytest.mark.parametrize("bank", BANKS, ids=lambda bank: bank.checker)
def test_checker_accepts_the_right_answer_and_rejects_its_bank(bank, capsys, record_property):
    bank.run(bank.right)
    assert capsys.readouterr().out.strip(), f"{bank.checker} printed nothing for the right implementation"
    assert len(bank.mutants) >= bank.minimum or bank.why_small, \
        f"{bank.checker}'s bank holds {len(bank.mutants)} mistakes; at least {bank.minimum}"
    survived, unnamed = [], []
    for mistake, mutant in bank.mutants.items():
        try:
            bank.run(mutant.fn)
        except CheckFailed as failure:
            if not re.search(mutant.says, str(failure), re.IGNORECASE):
                unnamed.append(f"{mistake}: said {str(failure)[:160]!r}")
        else:
            survived.append(mistake)
    rejected = len(bank.mutants) - len(survived)
    rate = rejected / len(bank.mutants)
    record_property("checker_bank", f"{bank.checker}: {rejected}/{len(bank.mutants)} mistakes rejected ({rate:.0%})"
                    + (f", accepted: {', '.join(survived)}" if survived else ""))
    assert rate >= 0.95, f"{bank.checker} accepted {survived}"
    assert not unnamed, f"{bank.checker} rejected these without naming the mistake: {unnamed}"
