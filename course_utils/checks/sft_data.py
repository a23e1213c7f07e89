"""The checker of notebook 01's exercise: the share of an SFT example's tokens that carry loss."""
from __future__ import annotations

import math

from ..encode import encode_example
from .common import MASK_CASES, call_student, fail, hints

hints("loss_token_share",
      "Encode the example the way training does (encode_example): which of its tokens does the loss count? "
      "Remember the model must also learn to stop.",
      "The shape of the answer: (number of 1s in response_mask) / (number of input_ids), as a float.")


def check_loss_token_share(fn, tokenizer) -> None:
    """Check `fn(tokenizer, prompt, response) -> float`: (response tokens + EOS) / all tokens."""
    name = getattr(fn, "__name__", "your function")
    for prompt, response in MASK_CASES:
        got = call_student(fn, tokenizer, prompt, response, name=name)
        enc = encode_example(tokenizer, prompt, response)
        loss_tokens = sum(enc["response_mask"])                  # response tokens + EOS
        p, r = len(enc["input_ids"]) - loss_tokens, loss_tokens - 1
        want = loss_tokens / len(enc["input_ids"])
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise fail(f"{name} should return a number, got {type(got).__name__}.",
                       "return the fraction as a float, e.g. 0.25.") from None
        close = lambda v: math.isclose(got, v, rel_tol=1e-9)
        if close(want):
            continue
        if close(r / (p + r + 1)) or close(r / (p + r)):
            raise fail(f"{name} returned {got:.4f}, expected {want:.4f}: the EOS token is not counted as a loss token.",
                       "the model must learn to produce EOS, so it carries loss: count it.")
        if close(p / (p + r + 1)):
            raise fail(f"{name} returned the share of *prompt* tokens ({got:.4f}).",
                       "loss is on the response (and EOS), not on the prompt.")
        if close(100 * want):
            raise fail(f"{name} returned a percentage ({got:.2f}); expected a fraction ({want:.4f}).",
                       "return a number between 0 and 1.")
        if got == 0 and isinstance(want, float) and want > 0:
            raise fail(f"{name} returned 0, expected {want:.4f}: this looks like integer division (//).",
                       "divide with / so the share is a fraction between 0 and 1.")
        if close((r + 1) / p):
            raise fail(f"{name} returned {got:.4f}, expected {want:.4f}: it divides the loss tokens by the prompt "
                       "tokens, not by all the tokens.", "the denominator is len(input_ids): prompt + response + EOS.")
        if close(len(response) / (len(prompt) + len(response))):
            raise fail(f"{name} counts characters, not tokens.", "encode the example and count token ids.")
        raise fail(f"{name} returned {got:.4f}, expected {want:.4f} {prompt[-20:]!r} / {response!r}.",
                   "encode the example and look at its mask: which tokens does the model learn to predict, and "
                   "out of how many? Print both counts for a short example and check them by hand.")
    print(f"✓ {name} is right on {len(MASK_CASES)} examples.")
