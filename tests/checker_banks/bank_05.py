"""Notebook 05's checkers: check_people_split (hold out whole people) and check_verdict (a difference only
where the seed ranges separate)."""
import random
import statistics

from course_utils.checks import check_people_split, check_verdict

from . import Bank, Mutant


# ---- split_people --------------------------------------------------------------------------------------

def right_split(rows, n_test_people, seed=0):
    people = sorted({r["person"] for r in rows})
    test_people = set(random.Random(seed).sample(people, n_test_people))
    return [r for r in rows if r["person"] not in test_people], [r for r in rows if r["person"] in test_people]


def _route(rows, test_people):
    return [r for r in rows if r["person"] not in test_people], [r for r in rows if r["person"] in test_people]


def row_split(rows, n, seed=0):
    share = n / len({r["person"] for r in rows})
    shuffled = random.Random(seed).sample(rows, len(rows))
    cut = round(len(rows) * share)
    return shuffled[cut:], shuffled[:cut]


def one_row_stays_in_train(rows, n, seed=0):
    train, test = right_split(rows, n, seed)
    first = {}
    for r in test:
        first.setdefault(r["person"], r)
    return train + list(first.values()), [r for r in test if r not in first.values()]


def one_person_too_many(rows, n, seed=0):
    return right_split(rows, n + 1, seed)


def module_random(rows, n, seed=0):
    return _route(rows, set(random.sample(sorted({r["person"] for r in rows}), n)))


def unseeded_generator(rows, n, seed=0):
    return _route(rows, set(random.Random().sample(sorted({r["person"] for r in rows}), n)))


def seed_ignored(rows, n, seed=0):
    return right_split(rows, n, 0)


def first_people(rows, n, seed=0):
    return _route(rows, set(sorted({r["person"] for r in rows})[:n]))


def test_first(rows, n, seed=0):
    train, test = right_split(rows, n, seed)
    return test, train


def drops_rows(rows, n, seed=0):
    train, test = right_split(rows, n, seed)
    return train, test[::2]


def duplicates_rows(rows, n, seed=0):
    train, test = right_split(rows, n, seed)
    return train + test[:3], test


def with_replacement(rows, n, seed=0):
    return _route(rows, set(random.Random(seed).choices(sorted({r["person"] for r in rows}), k=n)))


def in_order_of_rows(rows, n, seed=0):
    people = list(dict.fromkeys(r["person"] for r in rows))      # first-seen order, not sorted
    return _route(rows, set(random.Random(seed).sample(people, n)))


def shuffles_in_place(rows, n, seed=0):
    random.Random(seed).shuffle(rows)
    return right_split(rows, n, seed)


def returns_people(rows, n, seed=0):
    train, test = right_split(rows, n, seed)
    return {r["person"] for r in train}, {r["person"] for r in test}


def returns_a_list(rows, n, seed=0):
    return list(right_split(rows, n, seed))


SPLIT_MUTANTS = {
    "a random row split": Mutant(row_split, "both sides.*row split"),
    "one row per test person left in train": Mutant(one_row_stays_in_train, "both sides"),
    "one person too many": Mutant(one_person_too_many, "holds 9 people, expected 8"),
    "the module's shared random state": Mutant(module_random, "same seed held out different people"),
    "a generator without the seed": Mutant(unseeded_generator, "same seed held out different people"),
    "the seed ignored": Mutant(seed_ignored, "different seed held out the same people"),
    "the first n people, not random ones": Mutant(first_people, "different seed held out the same people"),
    "returns (test, train)": Mutant(test_first, "wrong order"),
    "drops test rows": Mutant(drops_rows, "rows were lost"),
    "repeats rows": Mutant(duplicates_rows, "rows are repeated"),
    "people drawn with replacement": Mutant(with_replacement, "holds \\d people, expected 8"),
    "people in the rows' order, not sorted": Mutant(in_order_of_rows, "another order.*depends on the order"),
    "shuffles the caller's rows": Mutant(shuffles_in_place, "changed the rows it was given"),
    "returns people, not rows": Mutant(returns_people, "lists of rows"),
    "returns a list, not a pair": Mutant(returns_a_list, "should return a pair"),
}


# ---- verdict -------------------------------------------------------------------------------------------

def _need_three(a, b):
    for argument, scores in (("a_scores", a), ("b_scores", b)):
        if len(scores) < 3:
            raise ValueError(f"{argument} has {len(scores)} seeds; a verdict needs at least 3")


def right_verdict(a_scores, b_scores):
    _need_three(a_scores, b_scores)
    if min(a_scores) > max(b_scores):
        return "higher"
    if max(a_scores) < min(b_scores):
        return "lower"
    return "not distinguishable"


def _checked(rule):
    def fn(a, b):
        _need_three(a, b)
        return rule(a, b)
    return fn


def _separate(lo_a, hi_a, lo_b, hi_b):
    return "higher" if lo_a > hi_b else "lower" if hi_a < lo_b else "not distinguishable"


def _means(a, b):
    ma, mb = statistics.mean(a), statistics.mean(b)
    return "higher" if ma > mb else "lower" if ma < mb else "not distinguishable"


def _means_by_a_point(a, b):          # "a real difference": the means more than a point apart
    ma, mb = statistics.mean(a), statistics.mean(b)
    return "higher" if ma > mb + 0.01 else "lower" if ma < mb - 0.01 else "not distinguishable"


def _mean_and_stdev(a, b):            # "beyond one standard deviation of each other"
    ma, mb, sd = statistics.mean(a), statistics.mean(b), max(statistics.stdev(a), statistics.stdev(b))
    return "higher" if ma - mb > sd else "lower" if mb - ma > sd else "not distinguishable"


def _sorts_in_place(a, b):
    a.sort(), b.sort()
    return _separate(a[0], a[-1], b[0], b[-1])


def _refuses_three(a, b):
    if len(a) <= 3 or len(b) <= 3:
        raise ValueError(f"a_scores and b_scores need more than 3 seeds, got {len(a)} and {len(b)}")
    return right_verdict(a, b)


def _asserts(a, b):
    assert len(a) >= 3 and len(b) >= 3, "need 3 seeds"
    return right_verdict(a, b)


def _only_a_checked(a, b):
    if len(a) < 3:
        raise ValueError(f"a_scores has {len(a)} seeds; a verdict needs at least 3")
    return _separate(min(a), max(a), min(b), max(b)) if b else "not distinguishable"


def _vague_error(a, b):
    if min(len(a), len(b)) < 3:
        raise ValueError("not enough seeds")
    return right_verdict(a, b)


def _library_compare(a_scores, b_scores):      # the notebook's own compare, its wording trimmed
    from course_utils.generalization import compare
    _need_three(a_scores, b_scores)
    return compare(b_scores, a_scores).split(",")[0].removesuffix(" at this size")


def _no_check(a, b):
    return _separate(min(a), max(a), min(b), max(b)) if a and b else "not distinguishable"


VERDICT_MUTANTS = {
    "the means decide": Mutant(_checked(_means), "verdict on the means"),
    "the means, a point apart": Mutant(_checked(_means_by_a_point), "verdict on the means|ranges overlap"),
    "the means, a standard deviation apart": Mutant(_checked(_mean_and_stdev), "ranges"),
    "the best seed decides": Mutant(_checked(lambda a, b: _separate(max(a), max(a), max(b), max(b))), "best seeds only"),
    "overlapping ranges called a win (lowest against lowest)":
        Mutant(_checked(lambda a, b: _separate(min(a), min(a), min(b), min(b))), "ranges overlap"),
    "a tie counted as a win (>=)": Mutant(_checked(lambda a, b: "higher" if min(a) >= max(b) else "lower"
                                                   if max(a) <= min(b) else "not distinguishable"), "touch.*tie"),
    "the wrong way round": Mutant(_checked(lambda a, b: right_verdict(b, a)), "wrong way round"),
    "seed for seed": Mutant(_checked(lambda a, b: "higher" if all(x > y for x, y in zip(a, b)) else "lower"
                                     if all(x < y for x, y in zip(a, b)) else "not distinguishable"), "seed for seed"),
    "first and last as lowest and highest": Mutant(_checked(lambda a, b: _separate(a[0], a[-1], b[0], b[-1])),
                                                   "not sorted"),
    "sorts the caller's lists": Mutant(_checked(_sorts_in_place), "changed the lists"),
    "the library's wording": Mutant(_checked(lambda a, b: right_verdict(a, b) + ", beyond the seed spread"
                                             if right_verdict(a, b) != "not distinguishable" else "not distinguishable at this size"),
                                    "exactly one of"),
    "capitalised": Mutant(_checked(lambda a, b: right_verdict(a, b).capitalize()), "exactly one of"),
    "3 seeds refused": Mutant(_refuses_three, "3 seeds are enough"),
    "fewer seeds accepted": Mutant(_no_check, "fewer seeds are accepted"),
    "only a's seeds counted": Mutant(_only_a_checked, "b_scores has only"),
    "an assert, not a ValueError": Mutant(_asserts, "raised AssertionError.*ValueError"),
    "an error that does not say which list": Mutant(_vague_error, "does not name the argument"),
    "the library's compare": Mutant(_library_compare, "calls the library's verdict \\(compare\\)"),
    "not written": Mutant(lambda a, b: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
}

BANKS = [Bank("check_people_split", check_people_split, right_split, SPLIT_MUTANTS),
         Bank("check_verdict", check_verdict, right_verdict, VERDICT_MUTANTS)]
