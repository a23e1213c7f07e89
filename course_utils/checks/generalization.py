"""The checkers of notebook 05's exercises: hold out whole people, not rows (split_people), and say that one
setting beats another only where the seed spreads separate (verdict)."""
from __future__ import annotations

import random

from .common import CheckFailed, call_student, fail, hints, names_used

hints("split_people",
      "Choose the test *people* first, then route each row by its person. Which people are there, and in what "
      "order do you hand them to the random generator? (A set's order is not the same from run to run.)",
      "The shape of the answer: people = sorted({r['person'] for r in rows}); "
      "test_people = set(random.Random(seed).sample(people, n_test_people)); then two list comprehensions "
      "over rows, `not in` / `in` test_people; return (train, test) in that order.")
hints("verdict",
      "Look at each setting's lowest and highest seed, not its mean: when is every seed of a above every seed "
      "of b? And what should a tie between a's worst and b's best count as? Check the seed counts first.",
      "The shape of the answer: if len(a_scores) < 3 (or b's): raise ValueError naming the argument; "
      "if min(a_scores) > max(b_scores): 'higher'; if max(a_scores) < min(b_scores): 'lower'; "
      "otherwise 'not distinguishable'. Strict inequalities; never sort the caller's lists in place.")

# ---- exercise 5.1 --------------------------------------------------------------------------------------

_PEOPLE_ROWS = [{"id": f"r{i}", "person": f"P{i // 5:02d}", "attribute": i % 5} for i in range(200)]   # 40 people


def _split(fn, rows, n, seed, name):
    out = call_student(fn, rows, n, seed, name=name)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise fail(f"{name} should return a pair (train_rows, test_rows), got {type(out).__name__}.",
                   "return train, test")
    parts = [list(part) for part in out]
    for part in parts:
        if not all(isinstance(r, dict) and "person" in r for r in part):
            odd = next(r for r in part if not (isinstance(r, dict) and "person" in r))
            raise fail(f"{name} should return two lists of rows (the row dicts it was given), but a part holds "
                       f"{odd!r}, a {type(odd).__name__}.", "return the rows themselves, not their people or ids.")
    return parts


def check_people_split(fn) -> None:
    """Check `fn(rows, n_test_people, seed) -> (train_rows, test_rows)` on toy QA rows (40 people, 5 rows each)."""
    name = getattr(fn, "__name__", "your function")
    rows, n_test = list(_PEOPLE_ROWS), 8
    given = [dict(r) for r in rows]
    train, test = _split(fn, rows, n_test, 0, name)
    if rows != given:
        raise fail(f"{name} changed the rows it was given (shuffled, sorted or edited them in place).",
                   "build new lists; leave the caller's `rows` as they were.")
    train_ids, test_ids = [r["id"] for r in train], [r["id"] for r in test]
    all_ids = [r["id"] for r in rows]
    if len(train_ids) + len(test_ids) > len(all_ids) or len(set(train_ids + test_ids)) < len(train_ids + test_ids):
        raise fail(f"some rows are repeated: {len(train_ids)} + {len(test_ids)} rows came back for {len(all_ids)} given.",
                   "every row goes to exactly one side, once.")
    if sorted(train_ids + test_ids) != sorted(all_ids):
        raise fail(f"rows were lost: {len(train_ids)} + {len(test_ids)} rows came back for {len(all_ids)} given.",
                   "every row goes to exactly one side: a test person's rows all go to the test side, the rest to train.")
    train_people, test_people = {r["person"] for r in train}, {r["person"] for r in test}
    if len(train_people) == n_test and len(test_people) == 40 - n_test and not train_people & test_people:
        raise fail(f"the parts come back in the wrong order: the first holds {n_test} people, the second "
                   f"{40 - n_test}.", "return (train_rows, test_rows): the held-out people's rows second.")
    if train_people & test_people:
        raise fail(f"{len(train_people & test_people)} people appear on both sides, e.g. "
                   f"{sorted(train_people & test_people)[0]}: that is a row split, and it leaks.",
                   "choose the test *people* first, then send every row of theirs to the test side.")
    if len(test_people) != n_test:
        raise fail(f"the test side holds {len(test_people)} people, expected {n_test} (n_test_people).",
                   "sample exactly n_test_people distinct people (random.Random(seed).sample, not choices).")
    same = {r["person"] for r in _split(fn, list(rows), n_test, 0, name)[1]}
    if same != test_people:
        raise fail("two calls with the same seed held out different people: the choice is not seeded.",
                   "use a generator of your own, random.Random(seed), not the module's shared random state.")
    other = {r["person"] for r in _split(fn, list(rows), n_test, 1, name)[1]}
    if other == test_people:
        raise fail("a different seed held out the same people: the seed is ignored, or the choice is not random.",
                   "sample the people with random.Random(seed).sample(sorted(people), n_test_people).")
    reordered = list(rows)
    random.Random(5).shuffle(reordered)
    if {r["person"] for r in _split(fn, reordered, n_test, 0, name)[1]} != test_people:
        raise fail("the same rows in another order, with the same seed, held out different people: the split "
                   "depends on the order the rows come in (or on a set's order, which changes between runs).",
                   "sort the people before sampling: random.Random(seed).sample(sorted(people), n_test_people).")
    print(f"{name} looks right: whole people held out, nothing lost, seeded.")


# ---- exercise 5.2 --------------------------------------------------------------------------------------

VERDICTS = ("higher", "lower", "not distinguishable")


def _separate(a_low, a_high, b_low, b_high, strict=True) -> str:
    above = a_low > b_high if strict else a_low >= b_high
    below = a_high < b_low if strict else a_high <= b_low
    return "higher" if above else "lower" if below else "not distinguishable"


def _by_means(a, b) -> str:
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    return "higher" if ma > mb else "lower" if ma < mb else "not distinguishable"


def _seed_for_seed(a, b) -> str:
    pairs = list(zip(a, b))
    return ("higher" if all(x > y for x, y in pairs) else "lower" if all(x < y for x, y in pairs)
            else "not distinguishable")


def _flip(v: str) -> str:
    return {"higher": "lower", "lower": "higher"}.get(v, v)


def _right(a, b) -> str:
    return _separate(min(a), max(a), min(b), max(b))


def _ranges(a, b) -> str:
    return f"a: {min(a):.2f} to {max(a):.2f}, b: {min(b):.2f} to {max(b):.2f}"


# The usual mistakes, each as the verdict it gives and what to tell the student (in the order they are
# looked for: the one that explains every answer the student gave is named).
_MISTAKES = [
    (lambda a, b: _flip(_right(a, b)),
     lambda a, b: "the verdict is the wrong way round: it says how b stands against a.",
     "the verdict says how a stands against b: 'higher' when a's lowest seed beats b's highest."),
    (lambda a, b: _by_means(a, b),
     lambda a, b: (f"that is a verdict on the means (a {sum(a) / len(a):.3f}, b {sum(b) / len(b):.3f}); the ranges "
                   f"overlap ({_ranges(a, b)}), so the next seed could reverse it."),
     "a difference counts only where the ranges separate: compare a's lowest with b's highest, not the means."),
    (lambda a, b: _separate(max(a), max(a), max(b), max(b)),
     lambda a, b: f"that compares the best seeds only ({max(a):.2f} against {max(b):.2f}); the ranges overlap ({_ranges(a, b)}).",
     "a single best run is the least reliable number: compare a's lowest with b's highest."),
    (lambda a, b: _separate(min(a), max(a), min(b), max(b), strict=False),
     lambda a, b: f"the ranges touch ({_ranges(a, b)}): a's worst and b's best are equal, and a tie is not a win.",
     "use a strict inequality: min(a) > max(b), not >=."),
    (lambda a, b: _seed_for_seed(a, b),
     lambda a, b: (f"that compares seed for seed ({', '.join(f'{x:.2f} vs {y:.2f}' for x, y in zip(a, b))}), but the "
                   f"rule compares ranges, not pairs: even a fair pairing (same seed, same start and batch order) "
                   f"gives three wins in three by chance one time in eight with no real difference "
                   f"({_ranges(a, b)})."),
     "compare the ranges: every seed of a against every seed of b, i.e. min(a) against max(b)."),
    (lambda a, b: _separate(a[0], a[-1], b[0], b[-1]),
     lambda a, b: f"that reads a[0] and a[-1] as the lowest and highest, but the scores are not sorted ({_ranges(a, b)}).",
     "use min() and max(); the seeds come in seed order, not score order."),
]

# (a_scores, b_scores): each case separates the right rule from one of the mistakes above.
_VERDICT_CASES = [
    ([0.80, 0.84, 0.82], [0.70, 0.74, 0.72]),               # higher
    ([0.61, 0.66, 0.63], [0.71, 0.75, 0.73]),               # lower
    ([0.70, 0.88, 0.86], [0.72, 0.76, 0.74]),               # overlap; a's mean and best seed higher
    ([0.55, 0.58, 0.50], [0.56, 0.60, 0.52]),               # overlap; b's mean and best seed higher
    ([0.80, 0.84, 0.82], [0.76, 0.80, 0.78]),               # the ranges touch at 0.80
    ([0.90, 0.60, 0.70], [0.85, 0.55, 0.65]),               # a above b seed for seed, ranges overlap
    ([0.79, 0.81, 0.80, 0.82, 0.78], [0.70, 0.73, 0.71]),   # unequal numbers of seeds: higher
    ([0.74, 0.69, 0.78], [0.60, 0.79, 0.66]),               # unsorted: first/last are not min/max
    ([0.50, 0.50, 0.50], [0.50, 0.50, 0.50]),               # identical
]


def _call_verdict(fn, a, b, name):
    a_given, b_given = list(a), list(b)
    try:
        got = fn(a_given, b_given)
    except ValueError as e:
        raise fail(f"{name}({a}, {b}) raised ValueError({str(e)!r}), but both sides have at least 3 seeds "
                   f"({len(a)} and {len(b)}).", "refuse fewer than 3 (len(...) < 3); 3 seeds are enough.") from None
    except Exception:
        got = call_student(fn, list(a), list(b), name=name)     # the student's error, said the usual way
    if a_given != a or b_given != b:
        raise fail(f"{name} changed the lists it was given (sorted them in place?): {a} became {a_given}.",
                   "read min() and max(); do not call .sort() on the caller's lists.")
    if got not in VERDICTS:
        raise fail(f"{name}({a}, {b}) returned {got!r}; return exactly one of {', '.join(map(repr, VERDICTS))}.",
                   "a string, spelled as given, with nothing added.")
    return got


def _refuses(fn, a, b, argument, name) -> None:
    """The student's function must raise a ValueError that names `argument` for these too-few seeds."""
    try:
        got = fn(list(a), list(b))
    except NotImplementedError:
        raise fail(f"{name} is not written yet (it raises NotImplementedError).",
                   "replace the `raise NotImplementedError` line with your code, then run this cell again.") from None
    except CheckFailed:
        raise
    except ValueError as e:
        if argument not in str(e):
            raise fail(f"{name}({a}, {b}) raised ValueError({str(e)!r}), which does not name the argument "
                       f"that is short of seeds, {argument}.",
                       f"say which list is too short, e.g. ValueError(f'{argument} has {{n}} seeds; "
                       f"a verdict needs at least 3').") from None
        return
    except Exception as e:
        raise fail(f"{name}({a}, {b}) raised {type(e).__name__}: {e}. A list with too few seeds is bad input, "
                   f"and bad input raises a ValueError that names the argument.",
                   "check the lengths first and raise ValueError(...) yourself (an assert vanishes under python -O).") from e
    short = len(a) if argument == "a_scores" else len(b)
    raise fail(f"{name}({a}, {b}) returned {got!r}, but {argument} has only {short} seed{'s' * (short != 1)}: "
               f"fewer seeds are accepted than a verdict needs.",
               f"with fewer than 3 seeds on a side the spread means little: raise ValueError naming {argument}.")


# The library's verdicts: section 2 printed them, and the notebook checks the student's rule against them.
LIBRARY_VERDICTS = {"compare", "versus"}



def check_verdict(fn) -> None:
    """Check `fn(a_scores, b_scores) -> 'higher' | 'lower' | 'not distinguishable'`: how setting a stands
    against setting b over their seeds; 'higher'/'lower' only where every seed of one beats every seed of
    the other; a ValueError naming the argument when either has fewer than 3 seeds."""
    name = getattr(fn, "__name__", "your function")
    library = sorted(names_used(fn) & LIBRARY_VERDICTS)
    if library:
        raise fail(f"{name} calls the library's verdict ({', '.join(library)}) instead of making its own: the "
                   f"exercise is to write that rule, and the next cell checks yours against the library's.",
                   "decide from the seeds yourself: min() and max() of each list, compared with strict inequalities.")
    answers = [(a, b, _call_verdict(fn, a, b, name)) for a, b in _VERDICT_CASES]
    wrong = [(a, b, got) for a, b, got in answers if got != _right(a, b)]
    if wrong:
        a, b, got = wrong[0]
        head = f"{name}({a}, {b}) returned {got!r}, expected {_right(a, b)!r}: "
        explains_all = [m for m in _MISTAKES if all(m[0](x, y) == g for x, y, g in answers)]
        explains_this = [m for m in _MISTAKES if m[0](a, b) == got]
        for _, says, hint_text in explains_all or explains_this:
            raise fail(head + says(a, b), hint_text)
        overlap = "the ranges overlap, so neither is shown higher" if _right(a, b) == VERDICTS[2] else \
            "the ranges separate"
        raise fail(head + f"{overlap} ({_ranges(a, b)}).",
                   "'higher' only if min(a) > max(b), 'lower' only if max(a) < min(b), otherwise 'not distinguishable'.")
    for a, b, argument in (([0.8, 0.9], [0.1, 0.2], "a_scores"), ([0.8, 0.9, 0.85], [0.1, 0.2], "b_scores"),
                           ([0.1, 0.2, 0.15], [0.8], "b_scores"), ([0.9], [0.1, 0.2, 0.15], "a_scores"),
                           ([], [0.1, 0.2, 0.15], "a_scores")):
        _refuses(fn, a, b, argument, name)
    print(f"{name} looks right: a verdict only where the seed ranges separate, ties and overlaps not called a win, "
          f"fewer than 3 seeds refused.")
