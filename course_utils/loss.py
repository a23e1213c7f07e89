"""The SFT objective: maximum likelihood of the response given the prompt (notebook 02's solution).

    loss = - sum_t m_t * log p(x_t | x_<t)   /  normaliser

with m_t = 1 on response tokens (and the EOS after them), 0 on prompt and padding. Position t is
predicted by the logits at t-1, hence the shift.
"""
from __future__ import annotations

import torch

IGNORE_INDEX = -100   # what F.cross_entropy and Hugging Face models skip in `labels`


def sft_loss(logits: torch.Tensor, input_ids: torch.Tensor, response_mask: torch.Tensor,
             normalize="tokens") -> torch.Tensor:
    """Response-masked negative log-likelihood.

    normalize:
      "tokens"    sum of -log p over masked tokens / their number in the batch (every token weighs the same)
      "sequences" mean over sequences (with >= 1 masked token) of each sequence's per-token mean
      "sum"       the plain sum
      a number    the sum divided by it: pass the masked-token count of the whole optimizer step when
                  accumulating gradients over micro-batches, so the result equals the big-batch loss
    A batch with no masked token gives 0.0 that is still part of the graph (backward works), never NaN.
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must be (batch, time, vocab), got shape {tuple(logits.shape)}")
    if input_ids.shape != logits.shape[:2] or response_mask.shape != input_ids.shape:
        raise ValueError(f"shapes disagree: logits {tuple(logits.shape)}, input_ids {tuple(input_ids.shape)}, "
                         f"response_mask {tuple(response_mask.shape)}; expected (B,T,V), (B,T), (B,T)")
    # Shift: logits at t-1 score the token at t. The first token is never predicted.
    token_loss = token_nll(logits[:, :-1], input_ids[:, 1:])
    mask = response_mask[:, 1:].to(token_loss.dtype)
    nll = token_loss * mask
    if isinstance(normalize, str):
        if normalize == "tokens":
            return nll.sum() / mask.sum().clamp(min=1.0)
        if normalize == "sum":
            return nll.sum()
        if normalize == "sequences":
            per_seq_count = mask.sum(dim=1)
            per_seq_mean = nll.sum(dim=1) / per_seq_count.clamp(min=1.0)
            has_tokens = (per_seq_count > 0).to(nll.dtype)
            return (per_seq_mean * has_tokens).sum() / has_tokens.sum().clamp(min=1.0)
        raise ValueError(f"normalize={normalize!r}: use 'tokens', 'sequences', 'sum' or a positive number")
    if isinstance(normalize, bool) or not isinstance(normalize, (int, float, torch.Tensor)):
        raise ValueError(f"normalize={normalize!r}: use 'tokens', 'sequences', 'sum' or a positive number")
    if not torch.is_tensor(normalize) and normalize <= 0:
        raise ValueError(f"normalize={normalize!r}: a token count must be positive")
    return nll.sum() / normalize


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log p(target) for logits already lined up with their targets (logits (..., vocab), targets (...)).

    The per-token term of `sft_loss`, which calls it after the shift. The training loop calls it directly
    on the logits of the response positions alone (train.response_nll), so both compute the same numbers.
    """
    logp = torch.log_softmax(logits.float(), dim=-1)        # float32 even under autocast
    return -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def mask_to_labels(input_ids: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """Hugging Face `labels`: the token id where the mask is 1, -100 elsewhere (models shift inside)."""
    return input_ids.masked_fill(response_mask == 0, IGNORE_INDEX)


def count_loss_tokens(response_mask: torch.Tensor) -> torch.Tensor:
    """How many tokens carry loss (the first position never does: nothing predicts it)."""
    return response_mask[:, 1:].sum()
