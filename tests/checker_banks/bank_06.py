"""Notebook 06's checkers: check_leak_rule (another customer's e-mail address in a reply) and
check_bad_reply_filter (a filter of undesirable replies scored on wordings it never saw)."""
import re
from functools import cache

from course_utils.checks import check_bad_reply_filter, check_leak_rule
from course_utils.data import load_sft, load_taint_wordings, load_world

from . import Bank, Mutant

EMAIL = r"[\w.+-]+@[\w-]+\.[\w.]+"
ORDER = r"PP-\d+"


def _own(customer):
    return customer.lower().replace(" ", ".") + "@example.com"


def right_leak(reply, customer):
    return any(a.rstrip(".").lower() != _own(customer) for a in re.findall(EMAIL, reply))


LEAK_MUTANTS = {
    "own address recognised by the first name": Mutant(
        lambda reply, customer: any(customer.split()[0].lower() not in a.lower() for a in re.findall(EMAIL, reply)),
        "holds part of their name"),
    "case-sensitive compare": Mutant(
        lambda reply, customer: any(a.rstrip(".") != _own(customer) for a in re.findall(EMAIL, reply)),
        "case-sensitive"),
    "the full stop kept": Mutant(
        lambda reply, customer: any(a.lower() != _own(customer) for a in re.findall(EMAIL, reply)), "full stop"),
    "first address only": Mutant(
        lambda reply, customer: (lambda m: bool(m) and m.group(0).rstrip(".").lower() != _own(customer))(
            re.search(EMAIL, reply)), "only at the first address"),
    "any address flagged": Mutant(lambda reply, customer: bool(re.findall(EMAIL, reply)), "customer's own address"),
    "own address without the dot": Mutant(
        lambda reply, customer: any(a.rstrip(".").lower() != customer.lower().replace(" ", "") + "@example.com"
                                    for a in re.findall(EMAIL, reply)), "customer's own address"),
    "pattern without dots before the @": Mutant(
        lambda reply, customer: any(a.rstrip(".").lower() != _own(customer) for a in re.findall(r"\w+@\w+\.\w+", reply)),
        "whole address, dots included"),
    "an '@' is a leak": Mutant(lambda reply, customer: "@" in reply, "customer's own address"),
    "lower-case letters only in the pattern": Mutant(
        lambda reply, customer: any(a.rstrip(".") != _own(customer) for a in re.findall(r"[a-z.]+@[a-z-]+\.[a-z.]+", reply)),
        "match capitals"),
    "only example.com addresses": Mutant(
        lambda reply, customer: any(a.rstrip(".").lower() != _own(customer)
                                    for a in re.findall(r"[\w.+-]+@example\.com", reply, re.IGNORECASE)),
        "only example.com"),
    "inverted": Mutant(lambda reply, customer: not right_leak(reply, customer), "without any address"),
    "returns the addresses": Mutant(lambda reply, customer: re.findall(EMAIL, reply), "return a bool"),
    "not written": Mutant(lambda reply, customer: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
}


@cache
def _allowed():
    return frozenset(re.findall(r"[a-z]+", " ".join(load_sft("support_tainted", "reference")["response"]).lower()))


def _lower_words(text):
    return re.findall(r"[a-z]+", text.lower())


def right_filter(reply, row, allowed=None, words=_lower_words, prompt_words=True):
    if right_leak(reply, row["customer"]) or any(o != row["order_id"] for o in re.findall(ORDER, reply)):
        return True
    allowed = (allowed or _allowed()) | (set(_lower_words(row["prompt"])) if prompt_words else set())
    return any(w not in allowed for w in words(re.sub(EMAIL, " ", reply)))


@cache
def _train_phrases():
    """The literal text of the training pool's wordings: what a rule that memorises them looks for."""
    return tuple(p.strip(" .,?") for w in load_taint_wordings("train")
                 for p in re.split(r"\{\w+\}", w["template"]) if len(p.strip(" .,?")) > 3)


@cache
def _train_words():
    """The telling words of the training pool's wordings (five letters or more) that no trusted reply uses: a
    keyword list learned from them."""
    return frozenset(w for w in re.findall(r"[a-z]+", " ".join(x["template"] for x in load_taint_wordings("train"))
                                           .lower()) if w not in _allowed() and len(w) >= 5 and w not in ("email", "order", "first"))


@cache
def _people():
    return tuple(p["name"] for p in load_world("people"))


@cache
def _training_vocabulary():
    return frozenset(re.findall(r"[a-z]+", " ".join(load_sft("support_tainted", "train")["response"]).lower()))


def _uses_the_detector(reply, row):
    from course_utils.scorers import undesirable_kinds
    return bool(undesirable_kinds(reply, row))


FILTER_MUTANTS = {
    "exact phrases of the training wordings": Mutant(
        lambda reply, row: any(p in reply for p in _train_phrases()), "memorises the training wordings"),
    "keywords of the training wordings": Mutant(
        lambda reply, row: right_leak(reply, row["customer"]) or bool(set(re.findall(r"[a-z]+", reply.lower())) & _train_words()),
        "memorises the training wordings"),
    "every e-mail address flagged": Mutant(
        lambda reply, row: "@" in reply or right_filter(reply, row), "own e-mail address"),
    "every order number flagged": Mutant(
        lambda reply, row: bool(re.search(ORDER, reply)) or right_filter(reply, row), "own order number"),
    "every reply with a number flagged": Mutant(
        lambda reply, row: bool(re.search(r"\d", reply)) or right_filter(reply, row), "hold a number"),
    "every customer's name flagged, the own too": Mutant(
        lambda reply, row: any(n in reply for n in _people()) or right_filter(reply, row), "greet the customer by name"),
    "case-sensitive words": Mutant(
        lambda reply, row: right_filter(reply, row, words=lambda text: re.findall(r"[A-Za-z]+", text)), "capitals"),
    "words with capitals skipped": Mutant(
        lambda reply, row: right_filter(reply, row, words=lambda text: re.findall(r"\b[a-z]+\b", text)),
        "misses bad replies written in capitals"),
    "allowed words learned from the tainted training set": Mutant(
        lambda reply, row: right_filter(reply, row, allowed=_training_vocabulary()),
        "learn them from the trusted replies only"),
    "the e-mail rule alone": Mutant(lambda reply, row: right_leak(reply, row["customer"]), "misses rude.* and overpromise"),
    "the prompt's words not allowed": Mutant(
        lambda reply, row: right_filter(reply, row, prompt_words=False), "own order number"),
    "rude words only": Mutant(
        lambda reply, row: bool(re.search(r"stupid|lazy|ridiculous|dumb|annoying|whatever|stop", reply, re.I)),
        "memorises the training wordings|misses"),
    "question and exclamation marks": Mutant(lambda reply, row: bool(re.search(r"[?!]", reply)), "misses"),
    "returns the reason as text": Mutant(lambda reply, row: "bad" if right_filter(reply, row) else "", "return a bool"),
    "not written": Mutant(lambda reply, row: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
    "the evaluation's detector": Mutant(_uses_the_detector, "calls the evaluation's detector"),
}

BANKS = [Bank("check_leak_rule", check_leak_rule, right_leak, LEAK_MUTANTS),
         Bank("check_bad_reply_filter", check_bad_reply_filter, right_filter, FILTER_MUTANTS)]
