"""What every checker shares: the error a student reads, and calling the student's function safely.

Each checker calls the student's function on small, fully known inputs and compares it with the reference
solution. When the result is wrong it compares it with the results of the usual mistakes too, so the
message can say *which* mistake it looks like, with a hint. A right answer prints one line.
"""
from __future__ import annotations


class CheckFailed(AssertionError):
    """Raised by a checker: the message is written for the student."""


def fail(what: str, hint: str) -> CheckFailed:
    return CheckFailed(f"{what}\n  Hint: {hint}")


def call_student(fn, *args, name: str):
    try:
        return fn(*args)
    except NotImplementedError:
        raise fail(f"{name} is not written yet (it raises NotImplementedError).",
                   "replace the `raise NotImplementedError` line with your code, then run this cell again.") from None
    except CheckFailed:
        raise
    except Exception as e:  # the student's code crashed: show their error, briefly
        raise fail(f"{name} raised {type(e).__name__}: {e}",
                   "run it on the example above and read the traceback; check tensor shapes at each step.") from e


# Prompt/response pairs with awkward seams, for the exercises that encode an example (notebooks 01 and 02).
MASK_CASES = [
    ("### Instruction:\nWhere was Ada Torwick born?\n\n### Response:\n", "Ada Torwick was born in Veralon."),
    ("Question: what is the refund window? Answer: ", "30 days."),          # prompt ends in a space
    ("Say hello in French:", " Bonjour, ça va ?"),                           # response starts with a space
]
