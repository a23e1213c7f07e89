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

    The per-token term of `sft_loss`, which calls it after the shift, and of `response_nll`, which calls it
    on the logits of the response positions alone, so both compute the same numbers.
    """
    logp = torch.log_softmax(logits.float(), dim=-1)        # float32 even under autocast
    return -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def response_nll(model, batch: dict, per_token: bool = False) -> torch.Tensor:
    """-log p of every response token of a batch (`encode.collate`, padded or packed), summed (or one value
    per token, in the order of `batch["targets"]`, with `per_token=True`). Training, validation,
    perplexity and the data filter all measure a model through this one function.

    The transformer body runs on every position; the language-model head (as costly as several layers)
    and the log-softmax run only at the positions that predict a response token (`predict_at`). Summed
    and divided by the token count, this is exactly `sft_loss` on the full logits, gradients included
    (tests/test_packing.py checks it). A packed row passes its restarting `position_ids` and no attention
    mask, from which transformers builds the mask that keeps its examples apart (on a GPU with
    flash-attention, its variable-length kernel); a padded batch passes the usual padding mask. As for
    most Hugging Face causal LMs, GPT-2's logits are `lm_head(base_model(...).last_hidden_state)`.
    """
    inputs = {"input_ids": batch["input_ids"]}
    if batch["packed"]:
        inputs["position_ids"] = batch["position_ids"]
    else:
        inputs["attention_mask"] = batch["attention_mask"]
    hidden = _transformer_body(model)(**inputs, use_cache=False).last_hidden_state
    picked = hidden.flatten(0, 1).index_select(0, batch["predict_at"])
    nll = token_nll(model.get_output_embeddings()(picked), batch["targets"])
    return nll if per_token else nll.sum()


def _transformer_body(model):
    """The model without its language-model head (GPT-2: `model.transformer`). A peft model (LoRA) wraps
    the Hugging Face model and its own `base_model` still ends in the head, so unwrap it first; the LoRA
    layers live inside the body and train as usual."""
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model.base_model


def mask_to_labels(input_ids: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """Hugging Face `labels`: the token id where the mask is 1, -100 elsewhere (models shift inside)."""
    return input_ids.masked_fill(response_mask == 0, IGNORE_INDEX)


def count_loss_tokens(response_mask: torch.Tensor) -> torch.Tensor:
    """How many tokens carry loss (the first position never does: nothing predicts it)."""
    return response_mask[:, 1:].sum()
