"""What every checker shares: the error a student reads, and calling the student's function safely.

Each checker calls the student's function on small, fully known inputs and compares it with the reference
solution. When the result is wrong it compares it with the results of the usual mistakes too, so the
message can say *which* mistake it looks like, with a hint. A right answer prints one line.
"""
from __future__ import annotations

from collections import Counter


class CheckFailed(AssertionError):
    """Raised by a checker: the message is written for the student."""


def fail(what: str, hint: str) -> CheckFailed:
    return CheckFailed(f"{what}\n  Hint: {hint}")


# Graded hints for each exercise, by the name of the function the student writes: first what to look at,
# then the shape of the answer. Each checker module registers its own with `hints(...)`.
HINTS: dict[str, tuple[str, ...]] = {}
_given: Counter = Counter()


def hints(exercise: str, *levels: str) -> None:
    """Register the graded hints of one exercise (from the vaguest to the shape of the answer)."""
    if not levels:
        raise ValueError(f"hints for {exercise!r}: give at least one")
    HINTS[exercise] = levels


def hint(exercise: str, level: int | None = None) -> None:
    """Print the next hint for an exercise (or hint `level`, 1 = the first); each call goes one step further."""
    if exercise not in HINTS:
        raise ValueError(f"no hints for {exercise!r}; exercises with hints: {', '.join(sorted(HINTS))}")
    levels = HINTS[exercise]
    if level is None:
        _given[exercise] = min(_given[exercise] + 1, len(levels))
        level = _given[exercise]
    if not 1 <= level <= len(levels):
        raise ValueError(f"{exercise!r} has hints 1 to {len(levels)}, not {level}")
    more = f" (hint({exercise!r}) again for the next)" if level < len(levels) else " (the last one)"
    print(f"Hint {level} of {len(levels)} for {exercise}{more}:\n  {levels[level - 1]}")


def names_used(fn) -> set[str]:
    """The global and attribute names a student's function refers to, nested code (comprehensions, lambdas,
    inner functions) included: how a checker sees that an exercise was handed to a course helper."""
    def walk(code) -> set[str]:
        names = set(code.co_names)
        for const in code.co_consts:
            if hasattr(const, "co_names"):
                names |= walk(const)
        return names
    code = getattr(fn, "__code__", None)
    return walk(code) if code is not None else set()


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
                   "call it yourself on a small input, read the traceback, and print what each line produces.") from e


# Prompt/response pairs with awkward seams, for the exercises that encode an example (notebooks 01 and 02).
MASK_CASES = [
    ("### Instruction:\nWhere was Ada Torwick born?\n\n### Response:\n", "Ada Torwick was born in Veralon."),
    ("Question: what is the refund window? Answer: ", "30 days."),          # prompt ends in a space
    ("Say hello in French:", " Bonjour, ça va ?"),                           # response starts with a space
]
