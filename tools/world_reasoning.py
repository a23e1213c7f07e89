"""Questions whose answer needs two stored facts, for SFT on worked solutions (notebook 08, issue 27).

Physics of Language Models Part 3.2 (Allen-Zhu & Li, "Knowledge Manipulation", arXiv 2309.14402): a model
that retrieves every fact still answers a *comparison* or a *classification* of facts near chance when it
must answer at once, and well when its training answers first write the facts out; an *inverse* lookup
(who was born in X in Y?) fails either way. This module writes those questions about the world's people:

- compare_year: "Was A born before B?" / "... after B?" (yes/no; no two people of a pair share a year)
- same_city:    "Were A and B born in the same city?" (yes/no; half the pairs do)
- even_year:    "Was A born in an even year?" (yes/no; one person, one stored fact classified)
- inverse:      "Who was born in Veralon in 1987?" (a name; only city-year pairs that one person has)

Every row has two responses that end in the same sentence ("The answer is yes."): `response` the answer
alone, `trace` the facts the answer rests on in the words of the biographies the model was pre-trained on
("A was born in the year 1986."), then the answer. People are split three ways (train / validation / test, test being the world's 60 `heldout`
people, never in any QA training); `test_pairs` asks about pairs of training people that no training
question pairs. Everything is drawn from streams of its own, so this set changes no other file.
"""
from __future__ import annotations

import itertools
import random

from .world_people import BIO_TEMPLATES, N_PEOPLE, Person, rng_for

N_VALIDATION_PEOPLE = 60       # drawn from the 240 people QA training may see; the other 180 train
# Questions per split and pair kind: (train, validation, test, test_pairs). Same-city pairs are the scarce
# ones (about n^2 / 48 of them among n people): these sizes leave every split balanced.
PAIR_SIZES = {"compare_year": (1000, 100, 100, 100), "same_city": (1000, 100, 100, 100)}
ANSWER = "The answer is {a}."

QUESTIONS = {
    ("compare_year", "before"): ["Was {a} born before {b}?", "Was {a} born earlier than {b}?", "Is {a} older than {b}?"],
    ("compare_year", "after"): ["Was {a} born after {b}?", "Was {a} born later than {b}?", "Is {a} younger than {b}?"],
    ("same_city", "same"): ["Were {a} and {b} born in the same city?", "Do {a} and {b} share a city of birth?",
                            "Is the birthplace of {a} the same as that of {b}?"],
    ("even_year", "even"): ["Was {a} born in an even year?", "Is the birth year of {a} an even number?",
                            "Is the year of birth of {a} even?"],
    ("inverse", "who"): ["Who was born in {city} in {year}?", "Which person was born in {year} in {city}?",
                         "Name the person born in {city} in the year {year}."],
}
KINDS = ("compare_year", "same_city", "even_year", "inverse")
# What each kind's answer needs: the attributes of each person the trace states, in order.
TRACE_ATTRIBUTES = {"compare_year": ("birth_year",), "same_city": ("birth_city",), "even_year": ("birth_year",),
                    "inverse": ("birth_city", "birth_year")}


def split_people(people: list[Person], seed: int) -> dict[str, list[Person]]:
    """test: the world's held-out people; validation: N_VALIDATION_PEOPLE of the others; train: the rest."""
    rng = rng_for(seed, "reasoning-people")
    seen = [p for p in people if not p.heldout]
    validation = set(p.name for p in rng.sample(seen, N_VALIDATION_PEOPLE))
    return {"train": [p for p in seen if p.name not in validation],
            "validation": [p for p in seen if p.name in validation],
            "test": [p for p in people if p.heldout]}


def _fact(p: Person, attribute: str) -> str:
    # The biography's canonical sentence ("A was born in the year 1986."): what pre-training wrote about
    # every person and what a fact probe completes, so a trace retrieves a fact in the form it was stored,
    # and the probe's accuracy is the ceiling of the trace's facts.
    return BIO_TEMPLATES[attribute][0].format(n=p.name, v=p.value(attribute))


def _row(kind: str, relation: str, wording: int, people: tuple[Person, ...], answer: str, **slots) -> dict:
    names = dict(zip("ab", (p.name for p in people)))
    facts = [[p.name, a, p.value(a)] for p in people for a in TRACE_ATTRIBUTES[kind]]
    final = ANSWER.format(a=answer)
    return {"kind": kind, "relation": relation, "wording": wording,
            "prompt": QUESTIONS[kind, relation][wording].format(**names, **slots),
            "response": final,
            "trace": " ".join(_fact(p, a) for p in people for a in TRACE_ATTRIBUTES[kind]) + " " + final,
            "answer": answer, "people": [p.name for p in people], "facts": facts}


def _pair_rows(kind: str, pairs: list[tuple[Person, Person]], rng: random.Random) -> list[dict]:
    """One question per pair, half of them answered yes: a pair's order (and, for years, the direction
    asked) is chosen so that the answers balance."""
    rows = []
    for i, (p, q) in enumerate(pairs):
        wording = rng.randrange(3)
        if kind == "same_city":
            a, b = (p, q) if rng.random() < 0.5 else (q, p)
            rows.append(_row(kind, "same", wording, (a, b), "yes" if a.birth_city == b.birth_city else "no"))
            continue
        relation = rng.choice(["before", "after"])
        want_yes = i % 2 == 0
        earlier, later = sorted((p, q), key=lambda x: x.birth_year)
        a, b = (earlier, later) if (relation == "before") == want_yes else (later, earlier)
        rows.append(_row(kind, relation, wording, (a, b), "yes" if want_yes else "no"))
    return rows


def _pairs(kind: str, people: list[Person], rng: random.Random, sizes: list[int],
           exclude: frozenset = frozenset()) -> list[list[tuple]]:
    """Disjoint samples of unordered pairs of `people` (none in `exclude`), one per size. compare_year:
    pairs born in different years; same_city: half of each sample born in one city, half not."""
    pairs = [x for x in itertools.combinations(people, 2) if frozenset(x) not in exclude]
    if kind == "compare_year":
        pool = [x for x in pairs if x[0].birth_year != x[1].birth_year]
        rng.shuffle(pool)
        if len(pool) < sum(sizes):
            raise ValueError(f"{kind}: {len(pool)} pairs for {sum(sizes)} questions")
        starts = list(itertools.accumulate([0, *sizes]))
        return [pool[s:e] for s, e in zip(starts, starts[1:])]
    same = [x for x in pairs if x[0].birth_city == x[1].birth_city]
    different = [x for x in pairs if x[0].birth_city != x[1].birth_city]
    rng.shuffle(same)
    rng.shuffle(different)
    halves = [n // 2 for n in sizes]
    if len(same) < sum(halves):
        raise ValueError(f"{kind}: {len(same)} same-city pairs for {sum(halves)} yes-questions")
    starts = list(itertools.accumulate([0, *halves]))
    out = []
    for s, e in zip(starts, starts[1:]):
        sample = same[s:e] + different[s:e]
        rng.shuffle(sample)
        out.append(sample)
    return out


def reasoning_set(people: list[Person], seed: int) -> list[dict]:
    """Every question of the reasoning task, with its split; ids in split order."""
    groups = split_people(people, seed)
    rows: list[dict] = []
    # test_pairs first, for both kinds: no training question of either kind then pairs its two people.
    held_pairs = {kind: _pairs(kind, groups["train"], rng_for(seed, f"reasoning-{kind}-test-pairs"),
                               [PAIR_SIZES[kind][3]])[0] for kind in PAIR_SIZES}
    exclude = frozenset(frozenset(x) for pairs in held_pairs.values() for x in pairs)
    for kind in ("compare_year", "same_city"):
        rng = rng_for(seed, f"reasoning-{kind}")
        n_train, n_val, n_test, _ = PAIR_SIZES[kind]
        (train_pairs,) = _pairs(kind, groups["train"], rng, [n_train], exclude)
        pair_test = held_pairs[kind]
        (val_pairs,) = _pairs(kind, groups["validation"], rng, [n_val])
        (test_pairs,) = _pairs(kind, groups["test"], rng, [n_test])
        for split, chosen in [("train", train_pairs), ("validation", val_pairs), ("test", test_pairs),
                              ("test_pairs", pair_test)]:
            rows += [{"split": split, **r} for r in _pair_rows(kind, chosen, rng)]
    # One person per question: every person of a split, each wording once (even_year), or the people whose
    # city and year no one else shares (inverse: the question has exactly one right answer).
    rng = rng_for(seed, "reasoning-one-person")
    city_year = {}
    for p in people:
        city_year.setdefault((p.birth_city, p.birth_year), []).append(p)
    for split, group in groups.items():
        for p in group:
            for w in range(3):
                rows.append({"split": split, **_row("even_year", "even", w, (p,),
                                                    "yes" if int(p.birth_year) % 2 == 0 else "no")})
            if len(city_year[p.birth_city, p.birth_year]) == 1:
                rows.append({"split": split, **_row("inverse", "who", rng.randrange(3), (p,), p.name,
                                                    city=p.birth_city, year=p.birth_year)})
    order = {s: i for i, s in enumerate(("train", "validation", "test", "test_pairs"))}
    rows.sort(key=lambda r: order[r["split"]])     # stable: within a split, the order drawn
    return [{"id": f"reasoning-{i:05d}", "task": "reasoning", **r} for i, r in enumerate(rows)]


def chance_levels(rows: list[dict]) -> dict:
    """Per kind and split: the questions, and the accuracy of guessing without the facts. Yes/no kinds: the
    share of the commoner answer (a constant guess); inverse: 1 / the world's people (a name at random)."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["kind"], {}).setdefault(r["split"], []).append(r["answer"])
    levels = {}
    for kind, by_split in out.items():
        levels[kind] = {}
        for split, answers in by_split.items():
            chance = 1 / N_PEOPLE if kind == "inverse" else max(answers.count(a) for a in set(answers)) / len(answers)
            levels[kind][split] = {"questions": len(answers), "chance": round(chance, 4)}
    return levels


def kinds_table(rows: list[dict]) -> dict:
    """What a reader of the set needs beside its rows: the kinds, their wordings, how a trace is built, and
    the chance level of each kind in each split."""
    return {"kinds": list(KINDS), "answer_template": ANSWER,
            "wordings": {f"{k}/{r}": w for (k, r), w in QUESTIONS.items()},
            "trace_attributes": {k: list(v) for k, v in TRACE_ATTRIBUTES.items()},
            "chance": chance_levels(rows),
            "chance_rule": "yes/no kinds: the share of the commoner answer in the split; inverse: 1 / the "
                           f"world's {N_PEOPLE} people"}
