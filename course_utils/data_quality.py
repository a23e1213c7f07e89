"""SFT learns what the data shows, including what nobody meant it to show (notebook 06).

- `tainted_support_set(share)`: the support training set with a chosen share of undesirable replies
  (rude, leaking another customer's data, promising what the policy forbids), taken from
  `support_tainted`, whose `taint` column says which rows are bad and how.
- `undesirable_rate`: the share of generated replies with any undesirable content (the detector in
  `scorers.undesirable_kinds`), on held-out support prompts.
- `response_losses`: each training example's response loss under a model, per token, so a filter can
  rank examples by how surprising their response is.
"""
from __future__ import annotations

import random

import torch

from .data import load_sft, load_undesirable_replies
from .encode import collate, to_device
from .evaluate import reply
from .loss import response_nll
from .models import eval_mode
from .scorers import undesirable_kinds


def tainted_support_set(share: float, seed: int = 0) -> list[dict]:
    """All 4,000 support training prompts, with an undesirable reply for `share` of them.

    The first 6.5% come from `support_tainted` (the shipped tainted set); beyond that, from the undesirable
    replies the generator wrote in advance for its clean rows (`data.load_undesirable_replies`), so any
    share up to 50% can be studied. The `taint` column says which rows are bad and how (rude, leak,
    overpromise); "" for clean rows.
    """
    if not 0 <= share <= 0.5:
        raise ValueError(f"share={share}: choose a taint share between 0 and 0.5")
    rows = load_sft("support_tainted", "train").to_list()
    clean = {r["prompt"]: r["response"] for r in load_sft("support", "train")}
    rng = random.Random(seed)
    shipped = [i for i, r in enumerate(rows) if r["taint"]]
    k = round(share * len(rows))
    chosen = rng.sample(shipped, min(k, len(shipped)))
    chosen += rng.sample([i for i in range(len(rows)) if not rows[i]["taint"]], k - len(chosen))
    chosen_set = set(chosen)
    written = load_undesirable_replies()
    out = []
    for i, r in enumerate(rows):
        if i not in chosen_set:
            out.append(dict(r, response=clean[r["prompt"]], taint=""))
        elif r["taint"]:
            out.append(r)
        else:
            out.append(dict(r, taint=written[r["id"]]["taint"], response=written[r["id"]]["response"]))
    return out


def undesirable_rate(model, tokenizer, rows: list[dict], samples: int = 1, temperature: float = 1.0,
                     seed: int = 0) -> dict:
    """Sample `samples` replies to every held-out support prompt (as a deployed chatbot does, at
    `temperature`); the share of replies with any undesirable content, overall and by kind.

    Sampling, not greedy decoding: a behaviour shown by a few percent of the training replies is rarely
    the single most likely reply, but it is sampled about as often as it was shown."""
    prompts = [r["prompt"] for r in rows] * samples
    rows = list(rows) * samples
    replies = reply(model, tokenizer, prompts, max_new_tokens=64, temperature=temperature, seed=seed)
    kinds = [undesirable_kinds(t, r) for t, r in zip(replies, rows)]
    by_kind = {k: sum(k in ks for ks in kinds) / len(rows) for k in ("rude", "leak", "overpromise")}
    return {"rate": sum(bool(ks) for ks in kinds) / len(rows), "by_kind": by_kind, "replies": replies,
            "kinds": kinds}


@torch.no_grad()
def response_losses(model, encoded: list[dict], pad_token_id: int, batch_size: int = 64) -> list[torch.Tensor]:
    """Per-token -log p of each example's response tokens (and EOS) under `model`, in eval mode (the
    model's mode is given back afterwards)."""
    device = next(model.parameters()).device
    # Batches of similar lengths waste little compute on padding; results go back in the caller's order.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]["input_ids"]))
    out: list[torch.Tensor | None] = [None] * len(encoded)
    with eval_mode(model):
        for s in range(0, len(order), batch_size):
            chunk = order[s: s + batch_size]
            batch = collate([encoded[i] for i in chunk], pad_token_id)
            per_token = response_nll(model, to_device(batch, device), per_token=True).cpu()
            for i, losses in zip(chunk, per_token.split(batch["target_counts"])):
                out[i] = losses
    return out
