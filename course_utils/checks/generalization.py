"""The checker of notebook 05's exercise: hold out whole people, not rows."""
from __future__ import annotations

from .common import call_student, fail


def check_people_split(fn) -> None:
    """Check `fn(rows, n_test_people, seed) -> (train_rows, test_rows)` on toy QA rows."""
    name = getattr(fn, "__name__", "your function")
    rows = [{"id": f"r{i}", "person": f"P{i // 5:02d}", "attribute": i % 5} for i in range(200)]   # 40 people
    out = call_student(fn, list(rows), 8, 0, name=name)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise fail(f"{name} should return a pair (train_rows, test_rows), got {type(out).__name__}.",
                   "return train, test")
    train, test = out
    train_ids, test_ids = [r["id"] for r in train], [r["id"] for r in test]
    if sorted(train_ids + test_ids) != sorted(r["id"] for r in rows):
        raise fail("the two parts together are not exactly the rows you were given (rows lost or repeated).",
                   "every row goes to exactly one side.")
    train_people, test_people = {r["person"] for r in train}, {r["person"] for r in test}
    if train_people & test_people:
        raise fail(f"{len(train_people & test_people)} people appear on both sides, e.g. "
                   f"{sorted(train_people & test_people)[0]}: that is a row split, and it leaks.",
                   "choose the test *people* first, then send every row of theirs to the test side.")
    if len(test_people) != 8:
        raise fail(f"the test side holds {len(test_people)} people, expected 8.", "sample exactly n_test_people people.")
    other = {r["person"] for r in call_student(fn, list(rows), 8, 1, name=name)[1]}
    same = {r["person"] for r in call_student(fn, list(rows), 8, 0, name=name)[1]}
    if same != test_people:
        raise fail("two calls with the same seed held out different people.", "use random.Random(seed).")
    if other == test_people:
        raise fail("a different seed held out the same people: the choice is not random.",
                   "sample the people with random.Random(seed).sample(sorted(people), n_test_people).")
    print(f"{name} looks right: whole people held out, nothing lost, seeded.")
