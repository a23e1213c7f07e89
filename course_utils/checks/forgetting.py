"""The checkers of notebook 04's exercises: mixing in replay, and a rule that chooses a setting from the
recorded frontier while respecting the spread over training seeds."""
from __future__ import annotations

import math

from .common import CheckFailed, call_student, fail, hints

hints("mix_replay",
      "Keep all n SFT examples and add k replay documents. The share is of the *final* set: k / (n + k) = share. "
      "Which function of random.Random draws k distinct items?",
      "The shape of the answer: rng = random.Random(seed); k = round(share * n / (1 - share)); "
      "mixed = sft + rng.sample(pool, k); rng.shuffle(mixed); return mixed.")
hints("choose_setting",
      "A promise about every seed is a promise about the worst seed: for each setting take min over its seeds "
      "of facts and of support. keep is a share of base_facts, and every number is a fraction (0.8, not 80).",
      "The shape of the answer: keep the settings whose worst facts >= keep * base_facts and worst support >= "
      "task_target; return None if there are none, else the one with the highest (worst facts, worst support), "
      "the first in the frontier's order on a full tie (max() keeps the first of equals).")


def _toy_examples(prefix: str, n: int) -> list[dict]:
    # Distinct ids per example; the first id says where it came from (1 = SFT, 2 = pre-training).
    origin = 1 if prefix == "sft" else 2
    return [{"input_ids": [origin, 1000 + i], "response_mask": [0, 1]} for i in range(n)]


def _tag(e) -> str | None:
    try:
        origin, i = e["input_ids"][0], e["input_ids"][1]
    except (KeyError, IndexError, TypeError):
        return None
    return f"{'sft' if origin == 1 else 'pretrain'}{i}"


def check_replay_mix(fn) -> None:
    """Check `fn(sft_examples, replay_examples, share, seed) -> list` on toy examples."""
    name = getattr(fn, "__name__", "your function")
    sft, pool = _toy_examples("sft", 90), _toy_examples("pretrain", 500)
    # k = share * n / (1 - share): whole at 10%, 25% and 50%; 38.57 at 30% and 48.46 at 35% (rounding either way)
    for share, expected in ((0.25, 30), (0.5, 90), (0.1, 10), (0.3, 39), (0.35, 48)):
        mixed = call_student(fn, list(sft), list(pool), share, 0, name=name)
        if not isinstance(mixed, list):
            raise fail(f"{name} returned {type(mixed).__name__}, expected a list of examples.",
                       "return the SFT examples and the replay examples together in one list.")
        names = [_tag(e) for e in mixed]
        kept = [n for n in names if n and n.startswith("sft")]
        replay = [n for n in names if n and n.startswith("pretrain")]
        if sorted(kept) != sorted(_tag(e) for e in sft):
            raise fail(f"with share={share} the SFT examples are not all kept exactly once "
                       f"({len(kept)} of {len(sft)} found).",
                       "keep every SFT example; replay is *added* to them.")
        if len(replay) != expected:
            got = len(replay) / max(1, len(mixed))
            exact = share * len(sft) / (1 - share)
            if len(replay) == round(share * len(sft)):
                hint = "the share is of the *final* set: k / (n + k) = share, so k = share * n / (1 - share)."
            elif len(replay) in (math.floor(exact), math.ceil(exact)):
                hint = (f"k = share * n / (1 - share) = {exact:.2f} here: you rounded it "
                        f"{'down' if len(replay) < exact else 'up'}; round it to the nearest whole number (round()).")
            elif not replay:
                hint = (f"share={share} is a fraction ({share:.0%} of the final set), not a percentage; "
                        "k = share * n / (1 - share).")
            else:
                hint = "k replay examples for n SFT examples, with k / (n + k) = share; round k to a whole number."
            raise fail(f"with share={share} and {len(sft)} SFT examples you added {len(replay)} replay examples "
                       f"(share {got:.1%}); expected {expected}.", hint)
        if len(set(replay)) != len(replay):
            raise fail("a replay document appears twice although the pool has enough documents.",
                       "draw without replacement: random.Random(seed).sample(pool, k).")
        if names[: len(sft)] == [_tag(e) for e in sft]:
            raise fail("the SFT examples all come first and the replay examples after them.",
                       "shuffle the combined list, or most batches would hold only one kind of text.")
    again = [_tag(e) for e in call_student(fn, list(sft), list(pool), 0.25, 0, name=name)]
    if again != [_tag(e) for e in call_student(fn, list(sft), list(pool), 0.25, 0, name=name)]:
        raise fail("two calls with the same seed gave different mixes.",
                   "use random.Random(seed) for every random choice, not the global random module.")
    if (sorted(_tag(e) for e in call_student(fn, list(sft), list(pool), 0.0, 0, name=name))
            != sorted(_tag(e) for e in sft)):
        raise fail("share=0 should give back exactly the SFT examples.", "with share 0, k = 0.")
    print(f"{name} looks right: exact shares 10% to 50%, every SFT example kept, no repeats, shuffled, seeded.")


# ---- choose_setting: a rule over the recorded frontier that respects the seeds' spread -------------------

def _worst(points, key):
    return min(p[key] for p in points)


def _mean(points, key):
    return sum(p[key] for p in points) / len(points)


def _first(points, key):
    return min(points, key=lambda p: p["seed"])[key]


def reference_choice(frontier: dict, base_facts: float, task_target: float, keep: float):
    """The rule the exercise states: among the settings whose worst seed keeps at least `keep` of the base
    model's facts and reaches `task_target` on the task, the one whose worst seed keeps the most facts;
    ties go to the higher worst-seed task score, then to the first in the frontier's order; None if none."""
    ok = [name for name, pts in frontier.items()
          if _worst(pts, "facts") >= keep * base_facts and _worst(pts, "support") >= task_target]
    return max(ok, key=lambda n: (_worst(frontier[n], "facts"), _worst(frontier[n], "support")), default=None)


def _seeds(points, key):
    return ", ".join(f"{p[key]:.0%}" for p in sorted(points, key=lambda p: p["seed"]))


def _pts(facts, support):
    support = support if isinstance(support, list) else [support] * len(facts)
    return [{"seed": s, "facts": f, "support": t} for s, (f, t) in enumerate(zip(facts, support))]


# Small frontiers, each built so that one usual mistake picks another answer than the rule:
# (what it tests, frontier, base_facts, task_target, keep). Seeds are listed out of order in one of them.
CHOICE_CASES = [
    ("the worst seed, not the mean", {
        "A": _pts([0.60, 0.95, 0.95], 0.9), "B": _pts([0.80, 0.80, 0.80], 0.9)}, 1.0, 0.7, 0.75),
    ("every seed, not the first", {
        "A": _pts([0.90, 0.50, 0.80], 0.9), "B": _pts([0.80, 0.80, 0.80], 0.9)}, 1.0, 0.7, 0.75),
    ("the task target", {
        "A": _pts([0.95, 0.95, 0.95], 0.3), "B": _pts([0.85, 0.85, 0.85], 0.8)}, 1.0, 0.7, 0.75),
    ("the task target in the worst seed", {
        "A": _pts([0.95, 0.95, 0.95], [0.90, 0.90, 0.60]), "B": _pts([0.85, 0.85, 0.85], 0.75)}, 1.0, 0.7, 0.75),
    ("ranking by the worst seed", {
        "A": _pts([0.80, 0.95, 0.95], 0.9), "B": _pts([0.85, 0.85, 0.85], 0.9)}, 1.0, 0.7, 0.75),
    ("ranking by facts, not by the task", {
        "A": _pts([0.99, 0.99, 0.99], 0.75), "B": _pts([0.80, 0.80, 0.80], 0.95)}, 1.0, 0.7, 0.75),
    ("keep is a share of the base model's facts", {
        "A": _pts([0.65, 0.66, 0.67], 0.9)}, 0.8, 0.7, 0.75),
    ("no setting qualifies", {
        "A": _pts([0.50, 0.55, 0.52], 0.9), "B": _pts([0.97, 0.97, 0.97], 0.2)}, 1.0, 0.7, 0.75),
    ("at least means equal counts", {
        "A": _pts([0.75, 0.80, 0.90], [0.5, 0.625, 0.625])}, 1.0, 0.5, 0.75),
    ("a tie on facts", {
        "A": _pts([0.80, 0.80, 0.80], 0.75), "B": _pts([0.80, 0.85, 0.80], 0.85)}, 1.0, 0.7, 0.75),
    ("a full tie", {
        "A": _pts([0.80, 0.90, 0.80], 0.8), "B": _pts([0.85, 0.80, 0.80], 0.8), "C": _pts([0.5] * 3, 0.9)},
        1.0, 0.7, 0.75),
    ("seeds listed out of order", {
        "A": [{"seed": 2, "facts": 0.95, "support": 0.9}, {"seed": 0, "facts": 0.60, "support": 0.9},
              {"seed": 1, "facts": 0.95, "support": 0.9}],
        "B": _pts([0.80, 0.80, 0.80], 0.9)}, 1.0, 0.7, 0.75),
    ("nothing to choose from", {}, 1.0, 0.7, 0.75),
]


def _why_wrong(got, right, frontier, base_facts, task_target, keep) -> tuple[str, str]:
    """What the student's answer says about their rule, in their terms: (what happened, hint)."""
    floor = keep * base_facts
    goal = (f"the goal: every seed keeps >= {keep:.0%} of the base model's {base_facts:.0%} facts "
            f"(>= {floor:.1%}) and answers >= {task_target:.1%} of the task")
    if got is not None and (not isinstance(got, str) or got not in frontier):
        return (f"returned {got!r}, which is neither a setting of the frontier nor None.",
                f"return a key of the frontier dict ({', '.join(map(repr, frontier)) or 'it is empty'}) or None.")
    if got is not None:
        pts = frontier[got]
        facts_ok, task_ok = _worst(pts, "facts") >= floor, _worst(pts, "support") >= task_target
        if not facts_ok:
            seeds = f"its seeds keep {_seeds(pts, 'facts')} (worst {_worst(pts, 'facts'):.1%}), below {floor:.1%}"
            if _mean(pts, "facts") >= floor:
                return (f"chose {got!r}, whose *mean* over seeds meets the facts goal but {seeds}: you used the mean "
                        "over seeds instead of the worst seed.", f"{goal}. A promise for every seed is min(), not mean().")
            if _first(pts, "facts") >= floor:
                return (f"chose {got!r}: its first seed meets the facts goal but {seeds}: you read only one seed.",
                        f"{goal}. Look at every point of the setting (min over its seeds).")
            return (f"chose {got!r}, but {seeds}: the keep rule was not applied, or compared in other units "
                    f"(keep={keep} is a fraction of base_facts, not a percentage, and not an absolute score).",
                    f"{goal}." + (" Here no setting qualifies: return None." if right is None else ""))
        if not task_ok:
            seeds = f"its seeds answer {_seeds(pts, 'support')} of the task, below the task target {task_target:.1%}"
            if _mean(pts, "support") >= task_target:
                return (f"chose {got!r}, whose mean task score meets the target but {seeds}: the task target holds "
                        "for the worst seed too, not the mean.", f"{goal}.")
            return (f"chose {got!r}, which keeps facts but {seeds}: you ignored the task target (picking the "
                    "setting that keeps the most facts regardless of the task).",
                    f"{goal}. A setting that forgets nothing but learns nothing does not count."
                    + (" Here no setting qualifies: return None." if right is None else ""))
    if right is None:
        return ("returned a setting although none qualifies.", f"{goal}. When no setting qualifies, return None.")
    best = frontier[right]
    if got is None:
        bf, bs = _worst(best, "facts"), _worst(best, "support")
        if bf == floor or bs == task_target:
            return (f"returned None, but {right!r} qualifies exactly at the limit (worst seed: facts {bf:.1%}, task "
                    f"{bs:.1%}): 'at least' includes equality.", f"{goal}. Use >=, not >.")
        if bf < keep:
            return (f"returned None, but {right!r} qualifies: its worst seed keeps {bf:.1%} = {bf / base_facts:.0%} of "
                    f"the base model's {base_facts:.1%}. keep is a share of the base model's facts, not an absolute "
                    "score.", f"{goal}. Compare worst facts with keep * base_facts.")
        return (f"returned None, but {right!r} qualifies (worst seed: facts {bf:.1%}, task {bs:.1%}).",
                f"{goal}. Check the units of your comparisons: every number is a fraction (0.8, not 80).")
    g, b = frontier[got], best
    if _worst(g, "facts") < _worst(b, "facts"):
        if _mean(g, "facts") > _mean(b, "facts"):
            why = "you ranked the qualifying settings by their mean, not by their worst seed"
        elif _first(g, "facts") > _first(b, "facts"):
            why = "you ranked them by one seed, not by their worst seed"
        elif _worst(g, "support") > _worst(b, "support"):
            why = "you ranked them by the task score; the goal ranks qualifying settings by the facts kept"
        else:
            why = "another qualifying setting keeps more facts in its worst seed"
        return (f"chose {got!r}, but {right!r} also qualifies and keeps more facts in its worst seed "
                f"({_worst(b, 'facts'):.1%} vs {_worst(g, 'facts'):.1%}): {why}.", f"{goal}; then the most facts "
                "in the worst seed wins.")
    return (f"chose {got!r}, but it ties with {right!r} on the worst seed's facts ({_worst(g, 'facts'):.1%}); the "
            "stated tie-break: the higher worst-seed task score, then the first in the frontier's order.",
            "max(..., key=lambda name: (worst facts, worst support)) keeps the first of equal keys.")


def check_forgetting_choice(fn) -> None:
    """Check `fn(frontier, base_facts, task_target, keep) -> setting name or None` on small frontiers built to
    catch the usual mistakes, then on notebook 04's recorded frontier (the half of the world replay never
    rehearsed; task target: 10 points under plain SFT's mean task score; keep 80%)."""
    from course_utils.forgetting import load_frontier, settings_by_name, spread

    name = getattr(fn, "__name__", "your function")
    for what, frontier, base_facts, task_target, keep in CHOICE_CASES:
        copy = {k: [dict(p) for p in v] for k, v in frontier.items()}
        right = reference_choice(frontier, base_facts, task_target, keep)
        try:
            got = call_student(fn, copy, base_facts, task_target, keep, name=name)
        except CheckFailed as crash:
            if right is not None or "raised" not in str(crash):
                raise
            raise fail(f"On a small frontier that tests {what}, {str(crash).splitlines()[0]}",
                       "no setting qualifies here, and then the answer is None: max() of an empty list raises, "
                       "max(..., default=None) does not.") from None
        if got != right or (got is None) != (right is None):
            said, hint = _why_wrong(got, right, frontier, base_facts, task_target, keep)
            raise fail(f"On a small frontier that tests {what}, {name} {said}", hint)
    settings, base_facts = settings_by_name()
    _, groups = load_frontier()
    task_target = spread(groups[("full", 0.002)], "support").mean - 0.10
    got = call_student(fn, {k: [dict(p) for p in v] for k, v in settings.items()}, base_facts, task_target, 0.8,
                       name=name)
    right = reference_choice(settings, base_facts, task_target, 0.8)
    if got != right:
        said, hint = _why_wrong(got, right, settings, base_facts, task_target, 0.8)
        raise fail(f"On the recorded frontier, {name} {said}", hint)
    pts = settings[got]
    print(f"{name} looks right on {len(CHOICE_CASES)} small frontiers and the record. On the record (keep 80% of "
          f"{base_facts:.1%}, task >= {task_target:.1%}) it picks {got!r}: its worst seed keeps {_worst(pts, 'facts'):.1%} "
          f"of the probes nothing rehearsed ({_worst(pts, 'facts') / base_facts:.1%} of the base model's) and answers "
          f"{_worst(pts, 'support'):.1%} of the task.")
