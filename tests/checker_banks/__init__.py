"""Banks of plausible wrong implementations, one module per notebook (bank_02.py, ...), that each exercise
checker must reject. tests/test_checker_banks.py runs every bank: the right implementation must pass, and
each mutant must be rejected with a CheckFailed whose message names its mistake (the `says` pattern).

A module defines BANKS, a list of Bank: the checker's name, how to run it on a candidate function, the
right implementation, and the mutants by the mistake they make, in the student's words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Callable


@dataclass(frozen=True)
class Mutant:
    fn: Callable
    says: str            # a regular expression the checker's message must match: the mistake, named


@dataclass(frozen=True)
class Bank:
    checker: str                          # e.g. "check_sft_loss"
    run: Callable[[Callable], None]       # runs the checker on a candidate implementation
    right: Callable
    mutants: dict[str, Mutant] = field(default_factory=dict)
    minimum: int = 8                      # a smaller bank says why in `why_small`
    why_small: str = ""


@cache
def tokenizer():
    """The course's tokenizer, for checkers that encode text."""
    from course_utils.models import load_base
    return load_base("gpt2-tiny", device="cpu")[1]
