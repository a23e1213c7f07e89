"""The checkers of notebook 06's exercises: a rule that finds another customer's e-mail address in a reply
(check_leak_rule), and a filter of undesirable replies that must work on wordings it never saw
(check_bad_reply_filter)."""
from __future__ import annotations

import functools
import random
import re

from ..data import load_sft, load_taint_wordings, load_world
from .common import call_student, fail, hints, names_used

hints("mentions_foreign_email",
      "Find every e-mail address in the reply, not just the first; then ask of each one whether it is the "
      "customer's own (first.last@example.com, in any capitals, perhaps followed by the full stop of its sentence).",
      "The shape of the answer: own = customer.lower().replace(' ', '.') + '@example.com'; return any(address, "
      "without a trailing '.', lower-cased, != own) over re.findall(r'[\\w.+-]+@[\\w-]+\\.[\\w.]+', reply).")

hints("is_bad_reply",
      "A list of the bad phrases in the training set knows only those phrases, and the checker asks about others. "
      "Look at what every *good* reply shares instead: the words of trusted_replies, plus what the customer's own "
      "message (the prompt) names. What does a bad reply hold that no good reply does?",
      "The shape of the answer: True if the reply names an e-mail address or an order number (PP-12345) that is "
      "not the customer's own; otherwise remove the customer's own address, lower-case the reply, and return True "
      "when any of its words (re.findall(r'[a-z]+', ...)) is neither a word of trusted_replies nor a word of "
      "row['prompt'].")


# --------------------------------------------------------------------------------------------------------------
# Exercise 6.1: the leak rule.

# (reply, customer, right answer, what the case is, the mistake a wrong answer shows)
LEAK_CASES = [
    ("Your desk lamp has shipped.", "Ada Torwick", False, "a reply with no e-mail address",
     "a reply without any address holds no leak: return False when re.findall finds no address."),
    ("We wrote to ada.torwick@example.com about your desk lamp.", "Ada Torwick", False, "the customer's own address",
     "your rule flags the customer's own address. Their address is first.last@example.com: 'Ada Torwick' -> "
     "'ada.torwick@example.com' (lower case, a dot for the space), and your pattern must take in the whole address, "
     "dots included."),
    ("By the way, Bram Selley (bram.selley@example.com) had the same problem.", "Ada Torwick", True,
     "another customer's address", "another customer's address in the reply is a leak: flag it."),
    ("We wrote to ada.torwick@example.com and to lio.garock@example.com.", "Ada Torwick", True,
     "the customer's address followed by another one",
     "your rule looks only at the first address (re.search?): check every address re.findall returns."),
    ("Ada Selley (ada.selley@example.com) asked the same.", "Ada Torwick", True,
     "another customer with the same first name",
     "your rule treats an address as the customer's own because it holds part of their name: compare the whole "
     "address with the customer's own, not a substring."),
    ("Write to Ivo.Pelett@Example.com for help.", "Ada Torwick", True, "another address in capitals",
     "an address in capitals is still an address: let your pattern match capitals, and lower-case before comparing."),
    ("Email ADA.TORWICK@EXAMPLE.COM if needed.", "Ada Torwick", False, "the customer's own address in capitals",
     "your comparison is case-sensitive: e-mail addresses are not, so lower-case the address before comparing."),
    ("We wrote to ada.torwick@example.com.", "Ada Torwick", False, "the customer's own address ending a sentence",
     "the full stop that ends the sentence is no part of the address: strip a trailing '.' before comparing."),
    ("Your parcel left today. Ask tess_marlo@parcelmail.net if it is late.", "Ada Torwick", True,
     "an address outside example.com",
     "your pattern finds only example.com addresses: any address that is not the customer's own is a leak."),
]


def check_leak_rule(fn) -> None:
    """Check `fn(reply, customer) -> bool`: True when the reply contains an e-mail address that is not
    the customer's own (first.last@example.com)."""
    name = getattr(fn, "__name__", "your function")
    for text, customer, expected, what, mistake in LEAK_CASES:
        got = call_student(fn, text, customer, name=name)
        if not isinstance(got, bool):
            raise fail(f"{name} returned {got!r} for {what}; expected True or False.",
                       "return a bool (any(...) gives one).")
        if got != expected:
            raise fail(f"{name} returned {got} for {what}: {text!r} (customer {customer}), expected {expected}.",
                       mistake)
    print(f"{name} looks right on {len(LEAK_CASES)} cases (no address, own address, others, several, the same first "
          "name, capitals, a full stop, another domain).")


# --------------------------------------------------------------------------------------------------------------
# Exercise 6.2: a filter of undesirable replies, scored on wordings it never saw.

UNSEEN_RECALL_BAR = 0.90       # of the bad replies written from wordings the training data never uses
KIND_RECALL_BAR = 0.80         # of each kind of them
FALSE_POSITIVE_BAR = 0.05      # of the clean replies, ordinary and awkward ones
SEEN_RECALL_BAR = 0.90         # of the training set's own bad replies: the filter is for them
KINDS = ("rude", "leak", "overpromise")
ORDER_ID = re.compile(r"PP-\d+")
DETECTOR_NAMES = {"undesirable_kinds", "off_policy_words", "leaked_data", "taint_kind_of"}   # the yardstick


def _row(r: dict) -> dict:
    """What the student's function may read of a row: the prompt, the customer, the order id."""
    return {"prompt": r["prompt"], "customer": r["customer"], "order_id": r["order_id"]}


def _email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@example.com"


def _fill(template: str, good: str, row: dict, rng: random.Random, people: list[str], items: list[str],
          upper: bool = False) -> str:
    """A reply from a wording: {good} is the policy reply, the rest names another customer's data. `upper`
    writes the wording's own words in capitals (the policy reply and the data stay as they are)."""
    other = rng.choice([p for p in people if p != row["customer"]])
    order_id = f"PP-{rng.randrange(10_000, 100_000)}"
    while order_id == row["order_id"]:
        order_id = f"PP-{rng.randrange(10_000, 100_000)}"
    parts = re.split(r"(\{\w+\})", template)
    values = {"{good}": good, "{name}": other, "{first}": other.split()[0], "{email}": _email(other),
              "{order_id}": order_id, "{item}": rng.choice(items)}
    return "".join(values[p] if p in values else (p.upper() if upper else p) for p in parts)


@functools.cache
def _cases() -> dict:
    """The fixed cases the filter is scored on (the same on every machine):

    - unseen: bad replies from the validation and detector pools of wordings, none of which the training
      data uses (the validation split's 45, and each detector wording around 6 clean test replies);
    - capitals: the detector pool's rude and over-promising wordings written in capitals;
    - seen: 60 of the training set's own bad replies;
    - clean: the validation split's clean replies, and clean test replies that name the customer's own
      order number, e-mail address or name, or are written in capitals."""
    rng = random.Random(6)
    people = sorted(p["name"] for p in load_world("people"))
    test = load_sft("support", "test").to_list()
    items = sorted({re.search(r"item: ([^|]+?) \|", r["prompt"]).group(1) for r in test})
    validation = load_sft("support_tainted", "validation").to_list()
    unseen = [(r["response"], _row(r), r["taint"]) for r in validation if r["taint"]]
    capitals = []
    hosts = rng.sample(test, 120)
    for w in load_taint_wordings("detector"):
        for r in rng.sample(hosts, 6):
            unseen.append((_fill(w["template"], r["response"], r, rng, people, items), _row(r), w["kind"]))
        if w["kind"] != "leak":
            r = rng.choice(hosts)
            capitals.append((_fill(w["template"], r["response"], r, rng, people, items, upper=True), _row(r), w["kind"]))
    train = [r for r in load_sft("support_tainted", "train") if r["taint"]]
    seen = [(r["response"], _row(r), r["taint"]) for r in rng.sample(train, 60)]
    clean = {"ordinary": [(r["response"], _row(r)) for r in validation if not r["taint"]]}
    awkward = rng.sample([r for r in test if r not in hosts], 40)
    clean["own order number"] = [(f"We have your order {r['order_id']}. {r['response']}", _row(r))
                                 for r in awkward]
    clean["own e-mail address"] = [(f"{r['response']} We emailed {_email(r['customer'])}.", _row(r))
                                   for r in awkward]
    clean["own name"] = [(f"{r['customer']}, {r['response'][0].lower()}{r['response'][1:]}", _row(r)) for r in awkward]
    clean["capitals"] = [(r["response"].upper(), _row(r)) for r in awkward]
    # Not graded, a diagnosis: a clean reply with words no reply of the course uses. A rule that flags it
    # looks for new words; if it still misses the training set's bad replies, it learned them as allowed.
    novel = (f"{awkward[0]['response']} Quixotic zephyrs vex jumbled marmots.", _row(awkward[0]))
    return {"unseen": unseen, "capitals": capitals, "seen": seen, "clean": clean, "novel": novel}


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags)


def check_bad_reply_filter(fn) -> None:
    """Check `fn(reply, row) -> bool` (row: prompt, customer, order_id): True for an undesirable reply (rude,
    leaking another customer's data, promising what the policy forbids). It is scored on replies written from
    wordings the training data never uses (recall at least UNSEEN_RECALL_BAR overall and KIND_RECALL_BAR per
    kind) and on clean replies, some of them awkward (false positives at most FALSE_POSITIVE_BAR)."""
    name = getattr(fn, "__name__", "your function")
    cases = _cases()

    def verdicts(pairs):
        out = []
        for reply, row, *_ in pairs:
            got = call_student(fn, reply, dict(row), name=name)
            if not isinstance(got, bool):
                raise fail(f"{name} returned {got!r} for the reply {reply!r}; expected True or False.",
                           "return a bool: True for an undesirable reply, False for a clean one.")
            out.append(got)
        return out

    first_reply, first_row, *_ = cases["clean"]["ordinary"][0]
    call_student(fn, first_reply, dict(first_row), name=name)       # a stub fails here, before anything else
    detector = sorted(names_used(fn) & DETECTOR_NAMES)
    if detector:
        raise fail(f"{name} calls the evaluation's detector ({', '.join(detector)}).",
                   "the detector is the notebook's yardstick, built from the wordings the checker scores on: a filter "
                   "built on it grades itself. Write your own rule from the training set and trusted_replies.")
    clean = {group: verdicts(pairs) for group, pairs in cases["clean"].items()}
    unseen = verdicts(cases["unseen"])
    capitals = verdicts(cases["capitals"])
    seen = verdicts(cases["seen"])
    n_clean = sum(len(v) for v in clean.values())
    false_positives = sum(sum(v) for v in clean.values())
    recall = _share(unseen)
    by_kind = {k: _share([f for f, (_, _, kind) in zip(unseen, cases["unseen"]) if kind == k]) for k in KINDS}
    summary = (f"on wordings it never saw it caught {recall:.1%} of {len(unseen)} bad replies ("
               + ", ".join(f"{k} {by_kind[k]:.1%}" for k in KINDS)
               + f"), {_share(seen):.1%} of {len(seen)} in the training set's own wordings; "
               f"it flagged {false_positives} of {n_clean} clean replies ({false_positives / n_clean:.1%}); "
               f"bars: recall >= {UNSEEN_RECALL_BAR:.0%} on new wordings (each kind >= {KIND_RECALL_BAR:.0%}) "
               f"and >= {SEEN_RECALL_BAR:.0%} on the training set's, "
               f"clean flagged <= {FALSE_POSITIVE_BAR:.0%}.")

    # Clean replies first: a rule that flags what every reply may hold fails whatever its recall.
    if _share(clean["ordinary"]) > FALSE_POSITIVE_BAR:
        flagged = [(reply, row) for (reply, row), f in zip(cases["clean"]["ordinary"], clean["ordinary"]) if f]
        example = flagged[0][0]
        if not any(call_student(fn, reply.lower(), dict(row), name=name) for reply, row in flagged[:10]):
            what, hint_text = ("treats words with capitals as new words: the same replies in lower case pass",
                               "words are the same words in any capitals: lower-case the reply before comparing.")
        elif not any(call_student(fn, re.sub(r"\d", "", reply), dict(row), name=name) for reply, row in flagged[:10]):
            what, hint_text = ("flags ordinary policy replies because they hold a number (of days, a price)",
                               "a number is no sign of a bad reply: only an order number that is not the customer's "
                               "own is.")
        else:
            what, hint_text = ("flags ordinary policy replies",
                               "a word that good replies use is no evidence: compare with the words of trusted_replies "
                               "and of the prompt, not with a list of suspicious tokens.")
        raise fail(f"{name} {what}: {len(flagged)} of {len(clean['ordinary'])}, e.g. {example!r}.\n  {summary}",
                   hint_text)
    awkward_hints = {
        "capitals": ("flags clean replies written in capitals",
                     "words are the same words in any capitals: lower-case the reply before comparing."),
        "own order number": ("flags clean replies that name the customer's own order number",
                             "an order number is a leak only when it is not the customer's own (row['order_id']); "
                             "the prompt names the customer's own."),
        "own e-mail address": ("flags clean replies that name the customer's own e-mail address",
                               "an address is a leak only when it is not the customer's own "
                               "(first.last@example.com, exercise 6.1); take the own address out before looking "
                               "at the words."),
        "own name": ("flags clean replies that greet the customer by name",
                     "the customer's own name is in the prompt: words of the prompt are no new content."),
    }
    for group, (what, hint_text) in awkward_hints.items():
        if _share(clean[group]) > FALSE_POSITIVE_BAR:
            example = next(reply for (reply, _), f in zip(cases["clean"][group], clean[group]) if f)
            raise fail(f"{name} {what}: {sum(clean[group])} of {len(clean[group])}, e.g. {example!r}.\n  {summary}",
                       hint_text)
    if false_positives / n_clean > FALSE_POSITIVE_BAR:
        raise fail(f"{name} flags too many clean replies ({false_positives} of {n_clean}).\n  {summary}",
                   "compare with the words of trusted_replies and of the prompt, not with a list of suspicious tokens.")

    if _share(capitals) < KIND_RECALL_BAR and recall >= UNSEEN_RECALL_BAR:
        raise fail(f"{name} misses bad replies written in capitals: it caught {_share(capitals):.1%} of "
                   f"{len(capitals)}, e.g. {next(c[0] for c, f in zip(cases['capitals'], capitals) if not f)!r}.\n"
                   f"  {summary}", "lower-case the reply before you look at its words.")
    if _share(seen) >= SEEN_RECALL_BAR and recall >= UNSEEN_RECALL_BAR and min(by_kind.values()) >= KIND_RECALL_BAR:
        print(f"{name} passes: {summary}")
        return
    missed_kinds = [k for k in KINDS if by_kind[k] < KIND_RECALL_BAR]
    example = next((reply for (reply, _, kind), f in zip(cases["unseen"], unseen)
                    if not f and kind in (missed_kinds or KINDS)), None)
    if _share(seen) >= SEEN_RECALL_BAR and _share(seen) - recall >= 0.2:
        raise fail(f"{name} memorises the training wordings: it catches {_share(seen):.1%} of bad replies written "
                   f"from wordings it has seen, but {recall:.1%} of new ones (it missed {example!r}).\n  {summary}",
                   "exact phrases or words of the training set's bad replies find only those; describe what a good "
                   "reply looks like (the words of trusted_replies and of the prompt) and flag what departs from it.")
    novel_reply, novel_row = cases["novel"]
    if _share(seen) < SEEN_RECALL_BAR and call_student(fn, novel_reply, dict(novel_row), name=name):
        example = next(c[0] for c, f in zip(cases["seen"], seen) if not f)
        raise fail(f"{name} flags words it has not seen, yet misses bad replies of the training set itself: it caught "
                   f"{_share(seen):.1%} of {len(seen)}, e.g. {example!r}.\n  {summary}",
                   "your allowed words come from data that holds the bad replies, so their words look allowed: learn "
                   "them from the trusted replies only.")
    if missed_kinds == ["leak"]:
        raise fail(f"{name} misses leaks of another customer's data ({by_kind['leak']:.1%} caught), e.g. "
                   f"{example!r}.\n  {summary}",
                   "another customer's name, e-mail address or order number is a leak: flag an address or an order "
                   "number that is not the customer's own, and a name the prompt does not hold.")
    if missed_kinds:
        raise fail(f"{name} misses {' and '.join(missed_kinds)} replies (" +
                   ", ".join(f"{k} {by_kind[k]:.1%}" for k in missed_kinds) + f" caught), e.g. {example!r}.\n  "
                   f"{summary}",
                   "each kind of bad reply says something a policy reply never says: look for words no trusted reply "
                   "uses, not only for addresses or a few bad words.")
    raise fail(f"{name} catches too few bad replies ({recall:.1%} in new wordings, {_share(seen):.1%} in the training "
               f"set's), e.g. {example or next(c[0] for c, f in zip(cases['seen'], seen) if not f)!r}.\n  {summary}",
               "flag a reply that says anything a policy reply never says: a word no trusted reply and no prompt uses.")
