"""Notebook 01's checker, check_loss_token_share: the share of an example's tokens that carry loss."""
from course_utils.checks import check_loss_token_share
from course_utils.encode import encode_example

from . import Bank, Mutant, tokenizer


def right(tok, prompt, response):
    enc = encode_example(tok, prompt, response)
    return sum(enc["response_mask"]) / len(enc["input_ids"])


def _counts(tok, prompt, response):
    p, r = len(tok(prompt)["input_ids"]), len(tok(response)["input_ids"])
    return p, r


MUTANTS = {
    "EOS not counted as a loss token": Mutant(
        lambda tok, p, r: (lambda n_p, n_r: n_r / (n_p + n_r + 1))(*_counts(tok, p, r)), "EOS token is not counted"),
    "EOS left out of the sequence too": Mutant(
        lambda tok, p, r: (lambda n_p, n_r: n_r / (n_p + n_r))(*_counts(tok, p, r)), "EOS token is not counted"),
    "share of prompt tokens": Mutant(lambda tok, p, r: 1 - right(tok, p, r), "share of \\*prompt\\* tokens"),
    "a percentage": Mutant(lambda tok, p, r: 100 * right(tok, p, r), "percentage"),
    "characters, not tokens": Mutant(lambda tok, p, r: len(r) / (len(p) + len(r)), "counts characters"),
    "loss tokens over prompt tokens": Mutant(
        lambda tok, p, r: (lambda n_p, n_r: (n_r + 1) / n_p)(*_counts(tok, p, r)), "divides the loss tokens by the prompt"),
    "integer division": Mutant(
        lambda tok, p, r: (lambda e: sum(e["response_mask"]) // len(e["input_ids"]))(encode_example(tok, p, r)),
        "integer division"),
    "a string": Mutant(lambda tok, p, r: f"{right(tok, p, r):.0%}", "should return a number"),
    "not written": Mutant(lambda tok, p, r: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
    "crashes": Mutant(lambda tok, p, r: tok(p)["input_ids"][10_000], "raised IndexError"),
}

BANKS = [Bank("check_loss_token_share", lambda fn: check_loss_token_share(fn, tokenizer()), right, MUTANTS)]
