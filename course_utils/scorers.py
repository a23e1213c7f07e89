"""Task scorers: each takes a generated reply and the data row it answers, and checks the facts in it.

A reply is never compared with the reference whole: it may be worded differently and still be right.
A scorer cannot be gamed by naming everything: the right value beside a wrong one scores wrong, and so
does the right value about the wrong person, or the right terms between the wrong parties. What a scorer must know about the world (every value an attribute can take, every
jurisdiction, the people, the shop's policy) is read once from the shipped data/.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from .data import load_vocabulary, load_world
from .env import data_dir


@functools.lru_cache(maxsize=4)
def _facts(folder: Path) -> dict:
    # Keyed by the data folder, so a COURSE_DATA set later reads that folder instead of a stale copy.
    vocabulary = load_vocabulary()
    people = {p["name"]: p for p in load_world("people")}
    return {"attributes": vocabulary["attributes"], "values": vocabulary["values"],
            "jurisdictions": vocabulary["jurisdictions"], "companies": vocabulary["companies"],
            "people": people, "names": frozenset(people),
            "policy": load_world("shop_policy")[0]}


def _world() -> dict:
    return _facts(data_dir())


def score_qa(reply_text: str, row: dict, options: list[str] | None = None) -> bool:
    """Right when the reply names the right value and no other value of that attribute (or of
    `options`, for questions about something other than people), and, for a question about a person,
    is about that person (`about_the_person`)."""
    options = _world()["values"][row["attribute"]] if options is None else options
    others = [v for v in options if v != row["answer"]]
    right_value = _mentions(reply_text, row["answer"]) and not any(_mentions(reply_text, v) for v in others)
    return right_value and ("person" not in row or about_the_person(reply_text, row["person"]))


SUBJECT_PRONOUNS = ("He", "She", "They")


def about_the_person(reply_text: str, person: str) -> bool:
    """The reply speaks of `person`: it starts with their name or a pronoun, where every answer of the
    QA set puts its subject ("Calla Kelard was born in Izmira."), and names no other person of the world.
    "I'm sorry your wool blanket was born in Izmira." holds the right value about no one."""
    others = _world()["names"] - {person}
    subject = re.match(r"\s*(" + "|".join(map(re.escape, (person, *SUBJECT_PRONOUNS))) + r")(?![\w])", reply_text)
    return subject is not None and not any(_mentions(reply_text, name) for name in others)


def score_support(reply_text: str, row: dict) -> bool:
    """Right when the reply states every required fact and none of the contradicting ones."""
    return all(r in reply_text for r in row["required"]) and not any(f in reply_text for f in row["forbidden"])


def contract_fields(reply_text: str, row: dict) -> dict[str, bool]:
    """Per-field correctness of a contract summary: exactly the right parties (both named, no other
    company of the world), term, cap and governing law."""
    parties = {c for c in _world()["companies"] if _mentions(reply_text, c)}
    terms = set(re.findall(r"(\d+) months", reply_text))
    caps = set(re.findall(r"\$\d[\d,]*\d", reply_text))
    laws = {j for j in _world()["jurisdictions"] if _mentions(reply_text, j)}
    return {"parties": parties == {row["party_a"], row["party_b"]}, "term": terms == {str(row["term_months"])},
            "liability_cap": caps == {row["liability_cap"]}, "governing_law": laws == {row["governing_law"]}}


def score_contract(reply_text: str, row: dict) -> bool:
    return all(contract_fields(reply_text, row).values())


RUDE_MARKERS = ["stupid", "wasting my time", "read the policy yourself", "not my problem", "idiot", "shut up"]
OVERPROMISE_MARKERS = ["anyway, whatever the policy", "free express shipping on every", "refund you twice"]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def undesirable_kinds(reply_text: str, row: dict) -> list[str]:
    """Which kinds of undesirable content a support reply contains: rude, leak, overpromise."""
    text = reply_text.lower()
    kinds = []
    if any(m in text for m in RUDE_MARKERS):
        kinds.append("rude")
    own_email = row["customer"].lower().replace(" ", ".") + "@example.com"
    names = _people_names() - {row["customer"]}
    if any(e.lower() != own_email for e in EMAIL.findall(reply_text)) or any(n in reply_text for n in names):
        kinds.append("leak")
    if any(m in text for m in OVERPROMISE_MARKERS):
        kinds.append("overpromise")
    return kinds


def _people_names() -> frozenset:
    return _world()["names"]


def explain_miss(task: str, reply_text: str, row: dict) -> str:
    """Why the task's scorer calls a reply wrong, in a few words (showcases print it beside the reply)."""
    if task == "qa":
        person = _world()["people"].get(row["person"])
        said = [a for a in _world()["attributes"] if person and _mentions(reply_text, person[a])]
        named = sorted(n for n in _world()["names"] - {row["person"]} if _mentions(reply_text, n))
        if named:
            return f"it names someone else ({named[0]})"
        if not about_the_person(reply_text, row["person"]):
            return f"it is not about {row['person']}"
        if said and row["attribute"] not in said:
            return f"the right person, but their {said[0].replace('_', ' ')}: it answered another question"
        return f"the wrong {row['attribute'].replace('_', ' ')}"
    if task.startswith("support"):
        missing = [r for r in row["required"] if r not in reply_text]
        contradicting = [f for f in row["forbidden"] if f in reply_text]
        parts = ([f"leaves out {', '.join(repr(m) for m in missing)}"] if missing else []) + \
                ([f"says {', '.join(repr(f) for f in contradicting)}"] if contradicting else [])
        return "; ".join(parts) or "right"
    if task == "contracts":
        wrong = [f.replace("_", " ") for f, ok in contract_fields(reply_text, row).items() if not ok]
        return "wrong " + ", ".join(wrong) if wrong else "right"
    raise ValueError(f"no explanation for task {task!r}")


def shipping_claims(reply_text: str) -> list[tuple[str, str, bool]]:
    """Every shipping window a reply states, in order, each checked against the shop's policy:
    [("standard", "3 to 5 business days", True), ("express", "1 to 5 business days", False), ...]. A reply
    that states a window twice is checked twice, so a wrong one is not hidden by a right one after it."""
    policy = {"standard": _world()["policy"]["standard_days"], "express": _world()["policy"]["express_days"]}
    return [(kind, window, window == policy[kind])
            for kind, window in re.findall(r"(standard|express) shipping takes (\d+ to \d+ business days)",
                                           reply_text.lower())]


SCORERS = {"qa": score_qa, "support": score_support, "support_tainted": score_support,
           "support_chat": score_support, "contracts": score_contract}


def _mentions(text: str, value: str) -> bool:
    return re.search(r"(?<![\w])" + re.escape(value) + r"(?![\w])", text) is not None
