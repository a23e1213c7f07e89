"""Notebook 07's checkers: check_labels_loss (the loss of a labels batch) and check_pack_row (a packed row and
its attention rule), each against the mistakes people make writing them."""
import torch

from course_utils.checks import check_labels_loss, check_pack_row
from course_utils.checks.trl import reference_attention_allowed, reference_pack_row

from . import Bank, Mutant


# ---- check_labels_loss ---------------------------------------------------------------------------------------
def right_labels_loss(logits, labels):
    targets = labels[:, 1:]
    keep = targets != -100
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    nll = -logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return nll[keep].sum() / keep.sum()


def _nll(logits, targets, log=torch.log_softmax):
    return -log(logits, dim=-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)


def no_shift(logits, labels):
    keep = labels != -100
    return _nll(logits, labels)[keep].mean()


def first_label_dropped_no_shift(logits, labels):      # drops the first column of both: still unshifted
    keep = labels[:, 1:] != -100
    return _nll(logits[:, 1:], labels[:, 1:])[keep].mean()


def wrong_way(logits, labels):
    keep = labels[:, :-1] != -100
    return _nll(logits[:, 1:], labels[:, :-1])[keep].mean()


def per_sequence(logits, labels):
    targets = labels[:, 1:]
    nll = _nll(logits[:, :-1], targets)
    return torch.stack([row[t != -100].mean() for row, t in zip(nll, targets)]).mean()


def counts_ignored(logits, labels):
    keep = labels[:, 1:] != -100
    return (_nll(logits[:, :-1], labels[:, 1:]) * keep).sum() / keep.numel()


def clamped_and_kept(logits, labels):
    return _nll(logits[:, :-1], labels[:, 1:]).mean()


def sum_not_mean(logits, labels):
    keep = labels[:, 1:] != -100
    return _nll(logits[:, :-1], labels[:, 1:])[keep].sum()


def no_log_softmax(logits, labels):
    keep = labels[:, 1:] != -100
    return _nll(logits[:, :-1], labels[:, 1:], log=lambda x, dim: x)[keep].mean()


def probability(logits, labels):
    keep = labels[:, 1:] != -100
    return _nll(logits[:, :-1], labels[:, 1:], log=torch.softmax)[keep].mean()


def mask_unshifted(logits, labels):
    keep = labels[:, :-1] != -100
    nll = _nll(logits[:, :-1], labels[:, 1:])
    return (nll * keep).sum() / keep.sum()


def in_bfloat16(logits, labels):              # the model's bf16 logits used as they come
    keep = labels[:, 1:] != -100
    return _nll(logits[:, :-1].bfloat16(), labels[:, 1:])[keep].mean()


def bfloat16_back_to_float(logits, labels):
    targets = labels[:, 1:]
    keep = targets != -100
    logp = torch.log_softmax(logits[:, :-1].bfloat16(), dim=-1).float()
    return -logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)[keep].mean()


def per_token(logits, labels):
    keep = labels[:, 1:] != -100
    return _nll(logits[:, :-1], labels[:, 1:])[keep]


def borrows_sft_loss(logits, labels):         # the course's loss on the labels turned back into a mask
    from course_utils import trl_bridge
    from course_utils.loss import sft_loss
    return sft_loss(logits, labels.clamp(min=0), trl_bridge.labels_to_mask(labels))


LABELS_MUTANTS = {
    "calls sft_loss and labels_to_mask": Mutant(borrows_sft_loss, "calls the course's own loss code"),
    "no shift": Mutant(no_shift, "no shift"),
    "drops the first label but does not shift": Mutant(first_label_dropped_no_shift, "no shift"),
    "shifted the wrong way": Mutant(wrong_way, "shifted the wrong way"),
    "per-sequence mean": Mutant(per_sequence, "per-sequence mean"),
    "counts the -100 positions": Mutant(counts_ignored, "counts the -100 positions"),
    "clamps -100 to 0 and keeps them": Mutant(clamped_and_kept, "-100 clamped to token 0 and kept"),
    "sum, not mean": Mutant(sum_not_mean, "a sum, not a mean"),
    "no log_softmax": Mutant(no_log_softmax, "no log_softmax"),
    "softmax, not log_softmax": Mutant(probability, "a probability, not a log-probability"),
    "mask from the unshifted labels": Mutant(mask_unshifted, "mask taken from the unshifted labels"),
    "bfloat16 loss": Mutant(in_bfloat16, "half precision"),
    "bfloat16 log-softmax, cast back": Mutant(bfloat16_back_to_float, "bfloat16 or float16"),
    "a Python float": Mutant(lambda lg, lb: right_labels_loss(lg, lb).item(), "one-element tensor"),
    "per-token losses": Mutant(per_token, "one-element tensor"),
    "not written": Mutant(lambda lg, lb: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
}


# ---- check_pack_row ------------------------------------------------------------------------------------------
def _row(examples, positions, mask=None, ids=None):
    ids = ids if ids is not None else [t for e in examples for t in e["input_ids"]]
    mask = mask if mask is not None else [m for e in examples for m in e["response_mask"]]
    return {"input_ids": torch.tensor(ids), "position_ids": torch.tensor(positions),
            "response_mask": torch.tensor(mask)}


def _restarting(examples, start=0):
    return [start + t for e in examples for t in range(len(e["input_ids"]))]


def _eos_unsupervised(examples):
    return [0 if t == len(e["input_ids"]) - 1 else m for e in examples for t, m in enumerate(e["response_mask"])]


def _seam_early(examples):          # restarts one token early: the previous example's EOS gets position 0
    pos = _restarting(examples)
    starts = [i for i, p in enumerate(pos) if p == 0][1:]
    for s in starts:
        pos[s - 1] = 0
        for j in range(s, s + len(pos)):
            if j >= len(pos) or (j > s and pos[j] == 0):
                break
            pos[j] = pos[j - 1] + 1
    return pos


def _mask_shifted(examples):
    flat = [m for e in examples for m in e["response_mask"]]
    return [0] + flat[:-1]


def _mask_first_only(examples):
    return examples[0]["response_mask"] + [0] * sum(len(e["input_ids"]) for e in examples[1:])


def pack(**how):
    return lambda examples: _row(examples, **{k: f(examples) for k, f in how.items()})


def right_pack(examples):
    return _row(examples, _restarting(examples))


PACK = {
    "positions not restarted": pack(positions=lambda ex: list(range(sum(len(e["input_ids"]) for e in ex)))),
    "positions start at 1": pack(positions=lambda ex: _restarting(ex, start=1)),
    "seam one token early": pack(positions=_seam_early),
    "EOS of each example not supervised": pack(positions=_restarting, mask=_eos_unsupervised),
    "response mask shifted by one": pack(positions=_restarting, mask=_mask_shifted),
    "response mask lost after the first seam": pack(positions=_restarting, mask=_mask_first_only),
    "prompts supervised too": pack(positions=_restarting, mask=lambda ex: [1] * sum(len(e["input_ids"]) for e in ex)),
    "EOS dropped from the row": lambda ex: right_pack([{"input_ids": e["input_ids"][:-1],
                                                        "response_mask": e["response_mask"][:-1]} for e in ex]),
    "a list of examples, not one row": lambda ex: {"input_ids": [e["input_ids"] for e in ex],
                                                   "position_ids": [list(range(len(e["input_ids"]))) for e in ex],
                                                   "response_mask": [e["response_mask"] for e in ex]},
    "not written": lambda ex: (_ for _ in ()).throw(NotImplementedError()),
}
PACK_SAYS = {
    "positions not restarted": "do not restart at each example",
    "positions start at 1": "off by one: each example starts at position 1",
    "seam one token early": "seam is off by one",
    "EOS of each example not supervised": "EOS that ends each example is not supervised",
    "response mask shifted by one": "response mask is shifted by one",
    "response mask lost after the first seam": "lost after the first seam",
    "prompts supervised too": "every token is a target, the prompts too",
    "EOS dropped from the row": "EOS of each example is left out",
    "a list of examples, not one row": "not one row of numbers|expected \\(\\d+,\\)",
    "not written": "not written yet",
}


def _causal(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def _segments(pos):
    return torch.cumsum(torch.as_tensor(pos) == 0, 0)


ATTEND = {
    "attention across examples (plain causal)": lambda pos: _causal(len(pos)),
    "not causal within an example": lambda pos: _segments(pos)[:, None] == _segments(pos)[None, :],
    "transposed (upper triangle)": lambda pos: reference_attention_allowed(pos).T,
    "a token may not attend to itself": lambda pos: reference_attention_allowed(pos) & ~torch.eye(len(pos),
                                                                                              dtype=torch.bool),
    "everything allowed": lambda pos: torch.ones(len(pos), len(pos), dtype=torch.bool),
    "examples numbered one token late": lambda pos: (lambda s: (s[:, None] == s[None, :]) & _causal(len(pos)))(
        torch.cat([torch.zeros(1, dtype=torch.long), _segments(pos)[:-1]])),
    "same position instead of same example": lambda pos: (pos[:, None] == pos[None, :]) & _causal(len(pos)),
    "an additive mask of 0 and -inf": lambda pos: torch.zeros(len(pos), len(pos)).masked_fill(
        ~reference_attention_allowed(pos), float("-inf")),
    "a model-ready (1, 1, T, T) mask": lambda pos: reference_attention_allowed(pos)[None, None],
    "not written": lambda pos: (_ for _ in ()).throw(NotImplementedError()),
}
LEAK = r"allowed\[\d+, \d+\] is True, but token \d+ is before token \d+ and in example \d+, not \d+"
ATTEND_SAYS = {
    "attention across examples (plain causal)": "attention crosses the seams",
    "not causal within an example": "not causal",
    "transposed (upper triangle)": "transposed",
    "a token may not attend to itself": "not allowed to attend to itself",
    "everything allowed": "every token sees every other",
    "examples numbered one token late": LEAK,
    "same position instead of same example": LEAK,
    "an additive mask of 0 and -inf": "not an additive mask",
    "a model-ready (1, 1, T, T) mask": "model-ready 4-D mask",
    "not written": "not written yet",
}

PACK_MUTANTS = {f"pack_row: {k}": Mutant((lambda f: lambda fn: check_pack_row(f, reference_attention_allowed))(f),
                                         PACK_SAYS[k]) for k, f in PACK.items()}
PACK_MUTANTS |= {f"attention_allowed: {k}": Mutant((lambda f: lambda fn: check_pack_row(right_pack, f))(f),
                                                   ATTEND_SAYS[k]) for k, f in ATTEND.items()}

BANKS = [
    Bank("check_labels_loss", check_labels_loss, right_labels_loss, LABELS_MUTANTS),
    # Two functions in one check: each mutant breaks one of them (the run ignores the candidate it is given
    # and calls the checker on the pair itself).
    Bank("check_pack_row", lambda pair: pair(None), lambda fn: check_pack_row(right_pack, reference_attention_allowed),
         PACK_MUTANTS),
]
