"""The checkers of notebook 04's exercises: mixing in replay, and a setting that keeps general knowledge."""
from __future__ import annotations

from .common import call_student, fail


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
    for share, expected in ((0.25, 30), (0.5, 90), (0.1, 10)):
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
            hint = ("the share is of the *final* set: k / (n + k) = share, so k = share * n / (1 - share)."
                    if len(replay) == round(share * len(sft)) else
                    "k replay examples for n SFT examples, with k / (n + k) = share; round k to a whole number.")
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
    print(f"{name} looks right: exact shares 10%, 25% and 50%, every SFT example kept, no repeats, shuffled, seeded.")


def check_forgetting_choice(fn, results: dict, base_facts: float, task_target: float, keep: float = 0.9) -> None:
    """Check that `fn()` names a setting of the measured `results` that keeps at least `keep` of the base
    model's fact accuracy and reaches `task_target` on the support prompts."""
    name = getattr(fn, "__name__", "your function")
    choice = call_student(fn, name=name)
    if choice not in results:
        raise fail(f"{name} returned {choice!r}, which is not a row of the results table.",
                   f"return one of: {', '.join(map(repr, results))}.")
    r = results[choice]
    kept = r.facts / base_facts
    if kept < keep:
        raise fail(f"{choice!r} keeps {kept:.0%} of the base model's fact accuracy; the goal is at least {keep:.0%}.",
                   "compare each setting's facts with the base model's: which settings forget least?")
    if r.support < task_target:
        raise fail(f"{choice!r} answers {r.support:.1%} of the support prompts; the target is {task_target:.1%} "
                   "(close to plain SFT's score).", "a setting that forgets nothing but learns nothing does not count.")
    print(f"{choice!r} meets both goals: {kept:.0%} of the fact accuracy kept, support {r.support:.1%}.")
