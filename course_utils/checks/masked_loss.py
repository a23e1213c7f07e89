"""The checkers of notebook 02's exercises: the masked loss, and the response mask of an encoded example."""
from __future__ import annotations

import math

import torch

from ..encode import encode_example
from ..loss import sft_loss, token_nll
from .common import MASK_CASES, call_student, fail


def _loss_case(seed: int):
    """A batch with a prompt, a response and right padding in every row, lengths all different."""
    g = torch.Generator().manual_seed(seed)
    B, T, V = 3, 10, 17
    logits = torch.randn(B, T, V, generator=g) * 2
    ids = torch.randint(0, V, (B, T), generator=g)
    mask = torch.zeros(B, T, dtype=torch.long)
    attention = torch.zeros(B, T, dtype=torch.long)
    for b, (prompt, response) in enumerate([(3, 6), (5, 2), (2, 4)]):
        mask[b, prompt: prompt + response] = 1
        attention[b, : prompt + response] = 1
    return logits, ids, mask, attention


def _loss_mistakes(logits, ids, mask, attention) -> dict[str, tuple[float, str]]:
    """What the usual wrong versions return on this case, and what to tell the student."""
    shifted = token_nll(logits[:, :-1], ids[:, 1:])
    m, a = mask[:, 1:].float(), attention[:, 1:].float()
    per_seq = (shifted * m).sum(1) / m.sum(1)
    raw = -logits[:, :-1].float().gather(-1, ids[:, 1:, None]).squeeze(-1)
    return {
        "no shift": ((token_nll(logits, ids) * mask).sum() / mask.sum(),
                     "the logits at position t predict the token at t+1: compare logits[:, :-1] with input_ids[:, 1:]."),
        "mask shifted the wrong way": ((shifted * mask[:, :-1]).sum() / mask[:, :-1].sum(),
                                       "after shifting the targets to input_ids[:, 1:], shift the mask the same way: response_mask[:, 1:]."),
        "prompt tokens counted": ((shifted * a).sum() / a.sum(),
                                  "only response tokens carry loss: multiply by the response mask, not the attention mask."),
        "padding counted": (shifted.mean(),
                            "padding and prompt positions must not count: use the response mask to select tokens."),
        "per-sequence mean": (per_seq.mean(),
                              "average over all response tokens of the batch at once (sum / count), not per sequence first."),
        "sum instead of mean": ((shifted * m).sum(), "divide the summed loss by the number of response tokens."),
        "divided by every position": ((shifted * m).sum() / m.numel(),
                                      "divide by the number of *response* tokens (mask.sum()), not by batch x length."),
        "no log-softmax": ((raw * m).sum() / m.sum(),
                           "logits are not log-probabilities: apply torch.log_softmax over the vocabulary first."),
        "sign flipped": (-(shifted * m).sum() / m.sum(),
                         "the loss is the *negative* log-likelihood: it should be positive and fall as the model improves."),
    }


def check_sft_loss(fn) -> None:
    """Check `fn(logits, input_ids, response_mask) -> scalar tensor` (token-averaged response loss)."""
    name = getattr(fn, "__name__", "your function")
    for seed in range(3):
        logits, ids, mask, attention = _loss_case(seed)
        got = call_student(fn, logits.clone().requires_grad_(), ids, mask, name=name)
        if not torch.is_tensor(got) or got.dim() != 0:
            raise fail(f"{name} should return a scalar tensor, got {type(got).__name__}"
                       f"{'' if not torch.is_tensor(got) else f' of shape {tuple(got.shape)}'}.",
                       "end with a reduction such as `.sum() / count` so the result is a single number.")
        want = sft_loss(logits, ids, mask)
        if not math.isclose(got.item(), want.item(), rel_tol=1e-4, abs_tol=1e-5):
            for mistake, (value, hint) in _loss_mistakes(logits, ids, mask, attention).items():
                if math.isclose(got.item(), float(value), rel_tol=1e-4, abs_tol=1e-5):
                    raise fail(f"{name} returned {got.item():.4f}, expected {want.item():.4f}: this looks like "
                               f"'{mistake}'.", hint)
            raise fail(f"{name} returned {got.item():.4f}, expected {want.item():.4f}.",
                       "go through the five steps in order: shift, log-softmax, gather, mask, normalise.")
        if not got.requires_grad:
            raise fail(f"{name} returns a value with no gradient.",
                       "don't call .item(), .detach() or torch.no_grad() inside the loss: training needs backward().")
    logits, ids, mask, _ = _loss_case(0)
    empty = call_student(fn, logits.clone().requires_grad_(), ids, torch.zeros_like(mask), name=name)
    if not torch.isfinite(empty) or empty.item() != 0.0:
        raise fail(f"on a batch with no response tokens {name} returned {empty.item()}, expected 0.0.",
                   "the token count is zero there; divide by count.clamp(min=1) so an empty batch gives 0, not NaN.")
    print(f"✓ {name} is right: it matches the reference loss on 3 batches and gives 0.0 on an empty one.")


def check_response_mask(fn, tokenizer) -> None:
    """Check `fn(tokenizer, prompt, response) -> (input_ids, response_mask)` (lists or 1-D tensors)."""
    name = getattr(fn, "__name__", "your function")
    eos = tokenizer.eos_token_id
    for prompt, response in MASK_CASES:
        out = call_student(fn, tokenizer, prompt, response, name=name)
        if isinstance(out, dict):
            out = (out.get("input_ids"), out.get("response_mask"))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise fail(f"{name} should return (input_ids, response_mask), got {type(out).__name__}.",
                       "return two lists of the same length.")
        ids, mask = ([int(x) for x in (v.tolist() if torch.is_tensor(v) else v)] for v in out)
        want = encode_example(tokenizer, prompt, response)
        w_ids, w_mask = want["input_ids"], want["response_mask"]
        n_prompt = w_mask.index(1)
        case = f"(prompt {prompt[-25:]!r}, response {response!r})"
        if len(ids) != len(mask):
            raise fail(f"{name} returned {len(ids)} ids but a mask of {len(mask)} {case}.",
                       "the mask needs one 0/1 entry per token.")
        if ids == w_ids[:-1]:
            raise fail(f"{name} does not end the sequence with EOS {case}.",
                       "append tokenizer.eos_token_id after the response: it is how the model learns to stop.")
        if ids != w_ids:
            if ids == tokenizer(prompt + response)["input_ids"] + [eos]:
                raise fail(f"{name} tokenised prompt + response as one string; BPE merged tokens across the seam {case}.",
                           "tokenise the prompt and the response separately and concatenate the ids.")
            raise fail(f"{name} returned different token ids from prompt ids + response ids + EOS {case}.",
                       "input_ids = tokenizer(prompt)['input_ids'] + tokenizer(response)['input_ids'] + [EOS].")
        if mask == w_mask[:-1] + [0]:
            raise fail(f"{name} leaves the final EOS out of the mask {case}.",
                       "the EOS is part of what the model must produce: give it mask 1.")
        if all(mask):
            raise fail(f"{name} marks the prompt as well as the response {case}.",
                       "prompt tokens get 0: the model is not trained to write the prompt.")
        if mask == [1 - m for m in w_mask]:
            raise fail(f"{name} has the mask inverted {case}.", "1 on response tokens and EOS, 0 on the prompt.")
        if mask != w_mask:
            first = mask.index(1) if 1 in mask else None
            raise fail(f"{name}'s mask starts at token {first}, but the response starts at token {n_prompt} {case}.",
                       "the mask is [0] * len(prompt_ids) + [1] * (len(response_ids) + 1).")
    print(f"✓ {name} is right: ids and mask match on {len(MASK_CASES)} examples, including awkward seams.")
