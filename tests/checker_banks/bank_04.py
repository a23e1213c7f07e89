"""Notebook 04's checkers: check_replay_mix (mixing replay into the SFT set) and check_forgetting_choice
(a rule that picks a setting from the recorded frontier while respecting the seeds' spread)."""
import math
import random

from course_utils.checks import check_forgetting_choice, check_replay_mix

from . import Bank, Mutant


# ---- mix_replay(sft_examples, replay_examples, share, seed) ----------------------------------------------

def right_mix(sft, pool, share, seed=0):
    rng = random.Random(seed)
    k = round(share * len(sft) / (1 - share))
    mixed = list(sft) + rng.sample(list(pool), k)
    rng.shuffle(mixed)
    return mixed


def _mix_with(k_of, *, draw="sample", shuffle=True, rng_of=random.Random, keep_sft=lambda s: list(s)):
    def mix(sft, pool, share, seed=0):
        rng = rng_of(seed)
        k = k_of(len(sft), share)
        if draw == "sample":
            extra = rng.sample(list(pool), k)
        elif draw == "choices":
            extra = rng.choices(list(pool), k=k)
        else:                                            # the first k documents of the pool
            extra = list(pool)[:k]
        mixed = keep_sft(sft) + extra
        if shuffle:
            rng.shuffle(mixed)
        return mixed
    return mix


RIGHT_K = lambda n, share: round(share * n / (1 - share))  # noqa: E731


class _GlobalRandom:
    """The global random module, seeded once at import: a run cannot be repeated from its seed."""
    def __init__(self, seed):
        pass

    def sample(self, population, k):
        return random.sample(population, k)

    def shuffle(self, x):
        random.shuffle(x)


def _replace_sft(sft, pool, share, seed=0):               # replaces a share of the SFT set instead of adding
    rng = random.Random(seed)
    k = round(share * len(sft))
    mixed = list(sft)[k:] + rng.sample(list(pool), k)
    rng.shuffle(mixed)
    return mixed


MIX_MUTANTS = {
    "share of the SFT set, not of the total": Mutant(_mix_with(lambda n, s: round(s * n)), r"share is of the \*final\* set"),
    "k / n instead of k / (n + k), rounded down": Mutant(_mix_with(lambda n, s: int(s * n)), r"share is of the \*final\* set"),
    "rounding down": Mutant(_mix_with(lambda n, s: math.floor(s * n / (1 - s))), r"added \d+ replay examples.*expected"),
    "rounding up": Mutant(_mix_with(lambda n, s: math.ceil(s * n / (1 - s))), r"added \d+ replay examples.*expected"),
    "drawn with replacement": Mutant(_mix_with(RIGHT_K, draw="choices"), r"appears twice[\s\S]*without replacement"),
    "not shuffled": Mutant(_mix_with(RIGHT_K, shuffle=False), "SFT examples all come first"),
    "the first k documents, unshuffled": Mutant(_mix_with(RIGHT_K, draw="head", shuffle=False), "SFT examples all come first"),
    "global random module": Mutant(_mix_with(RIGHT_K, rng_of=_GlobalRandom), "same seed gave different mixes"),
    "drops SFT examples to make room": Mutant(_replace_sft, "SFT examples are not all kept"),
    "drops duplicate-looking SFT examples": Mutant(
        _mix_with(RIGHT_K, keep_sft=lambda s: list(s)[: len(s) - 1]), "SFT examples are not all kept"),
    "share as a percentage": Mutant(_mix_with(lambda n, s: round(s / 100 * n / (1 - s / 100))), "is a fraction.*not a percentage"),
    "returns a tuple": Mutant(lambda sft, pool, share, seed=0: tuple(right_mix(sft, pool, share, seed)), "expected a list"),
    "share 0 divides anyway and adds one": Mutant(
        _mix_with(lambda n, s: max(1, RIGHT_K(n, s))), "share=0 should give back exactly the SFT examples"),
    "not written": Mutant(lambda *a: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
}


# ---- choose_setting(frontier, base_facts, task_target, keep) ----------------------------------------------

def _worst(pts, key):
    return min(p[key] for p in pts)


def _mean(pts, key):
    return sum(p[key] for p in pts) / len(pts)


def _first_listed(pts, key):
    return pts[0][key]


def _rule(facts_of=_worst, support_of=_worst, rank=None, keep_rule="share", cmp=lambda a, b: a >= b,
          use_task=True, none=None, tie="first"):
    """A choose_setting with one part changed; the defaults are the right rule."""
    rank = rank or (lambda pts: (facts_of(pts, "facts"), support_of(pts, "support")))

    def choose(frontier, base_facts, task_target, keep):
        floor = {"share": keep * base_facts, "absolute": keep, "percent": keep / 100 * base_facts,
                 "ignored": -1.0}[keep_rule]
        ok = [n for n, pts in frontier.items()
              if cmp(facts_of(pts, "facts"), floor) and (not use_task or cmp(support_of(pts, "support"), task_target))]
        if not ok:
            return none
        if tie == "last":
            return max(reversed(ok), key=lambda n: rank(frontier[n]))
        return max(ok, key=lambda n: rank(frontier[n]))
    return choose


def _best_effort(frontier, base_facts, task_target, keep):   # falls back to the most facts when none qualifies
    got = _rule()(frontier, base_facts, task_target, keep)
    return got if got is not None or not frontier else max(frontier, key=lambda n: _worst(frontier[n], "facts"))


def _crashes_when_none(frontier, base_facts, task_target, keep):
    ok = [n for n, pts in frontier.items()
          if _worst(pts, "facts") >= keep * base_facts and _worst(pts, "support") >= task_target]
    return max(ok, key=lambda n: (_worst(frontier[n], "facts"), _worst(frontier[n], "support")))


CHOICE_MUTANTS = {
    "mean over seeds instead of the worst seed": Mutant(
        _rule(facts_of=_mean, support_of=_mean), "used the mean over seeds instead of the worst seed"),
    "mean for the facts only": Mutant(_rule(facts_of=_mean), "used the mean over seeds instead of the worst seed"),
    "mean for the task only": Mutant(_rule(support_of=_mean), "not the mean"),
    "reads only the first seed": Mutant(_rule(facts_of=_first_listed, support_of=_first_listed), "read only one seed"),
    "ignores the task target": Mutant(_rule(use_task=False), "ignored the task target"),
    "max facts regardless of anything": Mutant(
        lambda f, b, t, k: max(f, key=lambda n: _worst(f[n], "facts"), default=None), "ignored the task target"),
    "ranks qualifying settings by their mean": Mutant(
        _rule(rank=lambda pts: (_mean(pts, "facts"), _mean(pts, "support"))), "ranked the qualifying settings by their mean"),
    "ranks qualifying settings by the task score": Mutant(
        _rule(rank=lambda pts: (_worst(pts, "support"), _worst(pts, "facts"))), "ranked them by the task score"),
    "keep as an absolute score, not a share of the base": Mutant(
        _rule(keep_rule="absolute"), "keep is a share of the base model's facts"),
    "keep read as a percentage": Mutant(_rule(keep_rule="percent"), "other units.*not a percentage"),
    "strict > instead of at least": Mutant(_rule(cmp=lambda a, b: a > b), "'at least' includes equality"),
    "no tie-break on the task score": Mutant(
        _rule(rank=lambda pts: _worst(pts, "facts")), "ties with .*tie-break"),
    "the last of equals on a full tie": Mutant(_rule(tie="last"), "ties with .*tie-break"),
    "best effort when nothing qualifies": Mutant(_best_effort, "no setting qualifies: return None"),
    "an empty string instead of None": Mutant(_rule(none=""), "neither a setting of the frontier nor None"),
    "crashes when nothing qualifies": Mutant(_crashes_when_none, "raised ValueError[\\s\\S]*default=None"),
    "returns the points, not the name": Mutant(
        lambda f, b, t, k: (lambda n: f[n] if n else n)(_rule()(f, b, t, k)), "neither a setting of the frontier"),
    "not written": Mutant(lambda *a: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
}

BANKS = [
    Bank("check_replay_mix", check_replay_mix, right_mix, MIX_MUTANTS),
    Bank("check_forgetting_choice", check_forgetting_choice, _rule(), CHOICE_MUTANTS),
]
