"""The checker of notebook 07's exercise: the loss on a Hugging Face / TRL batch (labels with -100), by hand."""
from __future__ import annotations

import torch

from ..loss import token_nll
from .common import call_student, fail


def _labels_case(seed: int):
    """Logits and labels as TRL's collator makes them: -100 on the prompt and on the right padding."""
    g = torch.Generator().manual_seed(seed)
    B, T, V = 3, 9, 13
    logits = torch.randn(B, T, V, generator=g) * 2
    labels = torch.randint(0, V, (B, T), generator=g)
    for b, (prompt, reply) in enumerate([(2, 5), (4, 2), (1, 7)]):
        labels[b, :prompt] = -100
        labels[b, prompt + reply:] = -100
    return logits, labels


def check_labels_loss(fn) -> None:
    """Check `fn(logits, labels) -> scalar tensor`: the mean -log p over the tokens whose label is not
    -100, each predicted by the logits one position earlier (the loss TRL and Hugging Face models compute)."""
    name = getattr(fn, "__name__", "your function")
    for seed in range(3):
        logits, labels = _labels_case(seed)
        got = call_student(fn, logits.clone(), labels.clone(), name=name)
        if not torch.is_tensor(got) or got.numel() != 1:
            raise fail(f"{name} returned {got!r:.60}; expected a one-element tensor.",
                       "return the loss itself (a scalar tensor), not a list or a per-token tensor.")
        targets = labels[:, 1:]
        keep = targets != -100
        nll = token_nll(logits[:, :-1], targets.clamp(min=0))
        right = nll[keep].mean()
        if abs(got.item() - right.item()) < 1e-5:
            continue
        unshifted_keep = labels != -100
        mistakes = {
            "no shift": (token_nll(logits, labels.clamp(min=0))[unshifted_keep].mean(),
                         "the logits at position t predict the token at t+1: compare logits[:, :-1] with labels[:, 1:]."),
            "per-sequence mean": (torch.stack([nll[b][keep[b]].mean() for b in range(len(labels))]).mean(),
                                  "divide the summed loss by the number of target tokens in the whole batch, not "
                                  "row by row: every token weighs the same."),
            "counts the -100 positions": ((nll * keep).sum() / keep.numel(),
                                          "divide by the number of labels that are not -100, not by every position."),
        }
        for what, (value, hint) in mistakes.items():
            if abs(got.item() - value.item()) < 1e-5:
                raise fail(f"{name} gives {got.item():.4f}, the value of a loss with this mistake: {what}.", hint)
        raise fail(f"{name} gives {got.item():.4f} on a small batch; the right value is {right.item():.4f}.",
                   "shift (logits[:, :-1] against labels[:, 1:]), take -log_softmax at the label, keep only "
                   "labels != -100, and divide the sum by their count.")
    print(f"{name} looks right: shifted, -100 skipped, one mean over every target token of the batch.")
