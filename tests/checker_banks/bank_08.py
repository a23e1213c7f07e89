"""Notebook 08's checker: check_verify (the verifier of worked solutions: the final answer only)."""
import re

from course_utils.checks import check_verify

from . import Bank, Mutant

SENTENCE = r"The answer is ([^.]+)\."


def _norm(a):
    a = a.strip()
    return a.lower() if a.lower() in ("yes", "no") else a


def right_verify(reply, answer):
    answers = {_norm(a) for a in re.findall(SENTENCE, reply)}
    return len(answers) == 1 and answers.pop() == _norm(answer)


def _first(reply, answer):
    found = re.findall(SENTENCE, reply)
    return bool(found) and _norm(found[0]) == _norm(answer)


def _last(reply, answer):
    found = re.findall(SENTENCE, reply)
    return bool(found) and _norm(found[-1]) == _norm(answer)


VERIFY_MUTANTS = {
    "answer anywhere in the reply": Mutant(lambda reply, answer: answer.lower() in reply.lower(), "substring"),
    "first answer sentence only": Mutant(_first, "hedged"),
    "last answer sentence only": Mutant(_last, "hedged"),
    "any answer sentence matches": Mutant(
        lambda reply, answer: any(_norm(a) == _norm(answer) for a in re.findall(SENTENCE, reply)), "hedged"),
    "case-sensitive yes/no": Mutant(
        lambda reply, answer: (lambda s: len(s) == 1 and s.pop() == answer)({a.strip() for a in re.findall(SENTENCE, reply)}),
        "capitals"),
    "the reply's first word": Mutant(
        lambda reply, answer: reply.split()[0].strip(",.").lower() == answer.lower(), "first word"),
    "a name's start is enough": Mutant(
        lambda reply, answer: (lambda s: len(s) == 1 and (_norm(answer).startswith(s[0]) or s[0].startswith(_norm(answer))))(
            list({_norm(a) for a in re.findall(SENTENCE, reply)})), "whole name|longer name|substring"),
    "the reply must end with the answer sentence": Mutant(
        lambda reply, answer: reply.strip().lower().endswith(f"the answer is {answer.lower()}."), "hedged|need not be the last"),
    "the last sentence holds the answer": Mutant(
        lambda reply, answer: answer.lower() in re.split(r"(?<=[.!?])\s+", reply.strip())[-1].lower(), "substring|last sentence"),
    "returns the answer it read": Mutant(
        lambda reply, answer: (re.findall(SENTENCE, reply) or [None])[-1], "return a bool"),
    "not written": Mutant(lambda reply, answer: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
}

BANKS = [Bank("check_verify", check_verify, right_verify, VERIFY_MUTANTS)]
