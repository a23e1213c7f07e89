"""SFT learns what the data shows, including what nobody meant it to show (notebook 06).

- `tainted_support_set(share)`: the support training set with a chosen share of undesirable replies
  (rude, leaking another customer's data, promising what the policy forbids), taken from
  `support_tainted`, whose `taint` column says which rows are bad and how.
- `fine_tune_support`: the notebook's support SFT run (notebook 04's settings), one seed.
- `undesirable_rate`: the share of generated replies with any undesirable content (the detector in
  `scorers.undesirable_kinds`, which knows no wording of the training taint), on held-out support prompts.
- `reference_model`: the loss filter's scorer, trained on a trusted sample of policy replies only.
- `response_losses` and `max_surprise`: each example's response loss under a model, per token, and its
  most surprising token, so a filter can rank examples by how surprising their response is.
- `precision_recall`, `cutoff_curve` and `best_cutoff`: how a filter's flags compare with the truth, and
  the cut-off of a score chosen on a labelled validation split.
"""
from __future__ import annotations

import copy
import random

import torch
from datasets import Dataset

from .data import load_sft, load_undesirable_replies
from .encode import collate, encode_sft, to_device
from .evaluate import reply
from .loss import response_nll
from .models import eval_mode
from .scorers import EMAIL, undesirable_kinds
from .train import train_sft

# Support SFT at notebook 04's settings (including its deliberately high learning rate): 300 steps of 8.
SUPPORT_RECIPE = dict(max_steps=300, batch_size=8, lr=2e-3)
# The loss filter's reference model: the same, for half the steps, on the 400 trusted replies (3 epochs).
REFERENCE_RECIPE = dict(max_steps=150, batch_size=8, lr=2e-3)


def tainted_support_set(share: float, seed: int = 0) -> list[dict]:
    """All 4,000 support training prompts, with an undesirable reply for `share` of them.

    The first 6.5% come from `support_tainted` (the shipped tainted set); beyond that, from the undesirable
    replies the generator wrote in advance for its clean rows (`data.load_undesirable_replies`), so any
    share up to 50% can be studied. All are written from the "train" pool's wordings. The `taint` column
    says which rows are bad and how (rude, leak, overpromise; "" for clean rows), `wording` which wording
    of that kind wrote the reply (None for clean rows).
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
            out.append(dict(r, response=clean[r["prompt"]], taint="", wording=None))
        elif r["taint"]:
            out.append(r)
        else:
            w = written[r["id"]]
            out.append(dict(r, taint=w["taint"], wording=w["wording"], response=w["response"]))
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


def fine_tune_support(base, tokenizer, rows: list[dict], seed: int = 0, recipe: dict | None = None,
                      device=None) -> tuple:
    """A copy of `base` fine-tuned on the prompt/response `rows` with SUPPORT_RECIPE; `seed` sets the
    batch order. Returns the tuned model and the encoded examples (input_ids, response_mask), in the
    order of `rows`, so a loss filter can score exactly what the model was trained on."""
    if not rows:
        raise ValueError("rows is empty: fine_tune_support needs at least one prompt/response row")
    encoded = encode_sft(Dataset.from_list([{"prompt": r["prompt"], "response": r["response"]} for r in rows]),
                         tokenizer).select_columns(["input_ids", "response_mask"]).to_list()
    tuned = copy.deepcopy(base)
    train_sft(tuned, encoded, pad_token_id=tokenizer.eos_token_id, seed=seed, progress=False, device=device,
              **(recipe or SUPPORT_RECIPE))
    return tuned, encoded


def reference_model(base, tokenizer, seed: int = 0, recipe: dict | None = None, n_rows: int | None = None,
                    device=None):
    """A copy of `base` fine-tuned (REFERENCE_RECIPE) on the trusted sample `support_tainted/reference`:
    400 support turns with policy replies only, none of the data to be filtered. It has never seen an
    undesirable reply, learned or new, so it finds them all about equally surprising (notebook 06)."""
    rows = load_sft("support_tainted", "reference").to_list()[:n_rows]
    model, _ = fine_tune_support(base, tokenizer, rows, seed=seed, recipe=recipe or REFERENCE_RECIPE, device=device)
    return model


def max_surprise(model, encoded: list[dict], pad_token_id: int) -> list[float]:
    """Each example's most surprising response token, max_t -log p(token_t): an insult opening a reply
    or a promise tacked onto it shows as one very unlikely token, however long the rest of the reply."""
    return [losses.max().item() for losses in response_losses(model, encoded, pad_token_id)]


def precision_recall(flags: list[bool], bad: list[bool]) -> dict:
    """How flags compare with the truth: flagged, caught (flagged and bad), precision (caught / flagged,
    1.0 when nothing is flagged) and recall (caught / bad, 1.0 when nothing is bad)."""
    if len(flags) != len(bad):
        raise ValueError(f"flags has {len(flags)} entries but bad has {len(bad)}: one per example each")
    flagged, caught, n_bad = sum(flags), sum(f and b for f, b in zip(flags, bad)), sum(bad)
    return {"flagged": flagged, "caught": caught, "bad": n_bad,
            "precision": caught / flagged if flagged else 1.0, "recall": caught / n_bad if n_bad else 1.0}


def cutoff_curve(scores: list[float], bad: list[bool], always: list[bool] | None = None) -> list[dict]:
    """Precision and recall of flagging every example whose score is >= a cut-off, and F1, for every
    cut-off that flags a different set: halfway between each two neighbouring distinct scores (so a
    cut-off in a gap sits in its middle), highest first, then the lowest score (everything flagged). `always`: flags raised anyway (a rule),
    or'ed in."""
    always = always or [False] * len(scores)
    if not len(scores) == len(bad) == len(always):
        raise ValueError(f"scores ({len(scores)}), bad ({len(bad)}) and always ({len(always)}) must have one "
                         "entry per example")
    curve = []
    distinct = sorted(set(scores), reverse=True)
    for cutoff in [(a + b) / 2 for a, b in zip(distinct, distinct[1:])] + distinct[-1:]:
        pr = precision_recall([s >= cutoff or a for s, a in zip(scores, always)], bad)
        f1 = 2 * pr["precision"] * pr["recall"] / (pr["precision"] + pr["recall"]) if pr["caught"] else 0.0
        curve.append(dict(pr, cutoff=cutoff, f1=f1))
    return curve


def best_cutoff(curve: list[dict]) -> float:
    """The cut-off with the best F1 on a validation curve (`cutoff_curve`); where several share it, the
    middle of their range. (The curve's cut-offs already sit halfway between neighbouring scores, so a
    gap between clean and bad scores is cut in its middle, not at the edge of the bad ones.)"""
    if not curve:
        raise ValueError("curve is empty: compute it with cutoff_curve on a labelled validation split")
    best = max(point["f1"] for point in curve)
    tied = [point["cutoff"] for point in curve if point["f1"] == best]
    return (min(tied) + max(tied)) / 2


def foreign_email(reply_text: str, customer: str) -> bool:
    """The rule of notebook 06's exercise: the reply holds an e-mail address other than the customer's
    own (first.last@example.com), compared case-insensitively."""
    own = customer.lower().replace(" ", ".") + "@example.com"
    return any(address.rstrip(".").lower() != own for address in EMAIL.findall(reply_text))   # "...com." ends a sentence


def filter_support(model, tokenizer, rows: list[dict], encoded: list[dict], validation: list[dict],
                   rule=foreign_email) -> dict:
    """Notebook 06's filter of a tainted training set, with its cut-off chosen on a labelled validation
    split whose bad replies use other wordings: `rule(reply, customer)` flags what it can name; the most
    surprising response token under `model` flags the rest, at the cut-off with the best F1 on
    `validation` (rule and loss together). `model` is the scorer: the reference model (`reference_model`)
    or the model fine-tuned on `rows` itself; `encoded` is `rows` encoded (`fine_tune_support` returns it).
    Returns the scores, the validation curve, the cut-off and its precision and recall on validation, the
    flags on `rows` and the rows kept."""
    if len(rows) != len(encoded):
        raise ValueError(f"rows has {len(rows)} entries but encoded has {len(encoded)}: encode exactly rows")
    pad = tokenizer.eos_token_id
    val_encoded = encode_sft(Dataset.from_list([{"prompt": r["prompt"], "response": r["response"]}
                                                for r in validation]), tokenizer)
    val_scores = max_surprise(model, val_encoded.select_columns(["input_ids", "response_mask"]).to_list(), pad)
    val_bad = [bool(r["taint"]) for r in validation]
    val_rule = [rule(r["response"], r["customer"]) for r in validation]
    curve = cutoff_curve(val_scores, val_bad, always=val_rule)
    cutoff = best_cutoff(curve)
    at_cutoff = precision_recall([s >= cutoff or r for s, r in zip(val_scores, val_rule)], val_bad)
    scores = max_surprise(model, encoded, pad)
    by_rule = [rule(r["response"], r["customer"]) for r in rows]
    by_loss = [s >= cutoff for s in scores]
    flagged = [a or b for a, b in zip(by_rule, by_loss)]
    return {"val_scores": val_scores, "val_bad": val_bad, "val_rule": val_rule, "curve": curve, "cutoff": cutoff,
            "validation_at_cutoff": at_cutoff,
            "scores": scores, "by_rule": by_rule, "by_loss": by_loss, "flagged": flagged,
            "kept": [r for r, f in zip(rows, flagged) if not f]}
