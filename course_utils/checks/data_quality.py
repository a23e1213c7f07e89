"""The checker of notebook 06's exercise: a rule that finds another customer's e-mail address in a reply."""
from __future__ import annotations

from .common import call_student, fail


def check_leak_rule(fn) -> None:
    """Check `fn(reply, customer) -> bool`: True when the reply contains an e-mail address that is not
    the customer's own (first.last@example.com)."""
    name = getattr(fn, "__name__", "your function")
    cases = [
        ("Your desk lamp has shipped.", "Ada Torwick", False, "a reply with no e-mail address"),
        ("We wrote to ada.torwick@example.com about your desk lamp.", "Ada Torwick", False,
         "the customer's own address"),
        ("By the way, Bram Selley (bram.selley@example.com) had the same problem.", "Ada Torwick", True,
         "another customer's address"),
        ("Contact lio.garock@example.com or ada.torwick@example.com.", "Ada Torwick", True,
         "the customer's address next to another one"),
        ("Write to Ivo.Pelett@Example.com for help.", "Ada Torwick", True, "another address in capitals"),
        ("Email ADA.TORWICK@EXAMPLE.COM if needed.", "Ada Torwick", False, "the customer's address in capitals"),
        ("We wrote to ada.torwick@example.com.", "Ada Torwick", False, "the customer's address ending a sentence"),
    ]
    for text, customer, expected, what in cases:
        got = call_student(fn, text, customer, name=name)
        if not isinstance(got, bool):
            raise fail(f"{name} returned {got!r} for {what}; expected True or False.", "return a bool.")
        if got != expected:
            raise fail(f"{name} returned {got} for {what}: {text!r} (customer {customer}).",
                       "find every address with a regular expression such as r'[\\w.+-]+@[\\w-]+\\.[\\w.]+', "
                       "compare each, lower-cased and without a full stop that ends the sentence, with the customer's own "
                       "first.last@example.com.")
    print(f"{name} looks right on {len(cases)} cases (own address, others, several, capitals, a full stop).")
