"""From (prompt, response) text to token ids with a response mask, and batches with dynamic padding.

The mask says which tokens the model must learn to *produce*: every response token and the EOS that
ends the response (without it the model never learns to stop). Prompt and padding tokens get 0.

Prompt and response are tokenized separately and concatenated. Byte-level BPE may merge across the
seam when the two are tokenized as one string (a prompt ending in a space, a response starting with
one); tokenizing separately keeps the seam exactly where the text has it, so the masked tokens decode
back to the response, and generation starts from the same prompt tokens training saw.
"""
from __future__ import annotations

import torch

from .data import format_prompt


def encode_example(tokenizer, prompt: str, response: str, max_length: int | None = None) -> dict:
    """`input_ids` = prompt tokens + response tokens + EOS; `response_mask` 1 on response tokens and EOS.

    An empty prompt gets a leading EOS (GPT-2's start-of-text convention), because the first token of a
    sequence has nothing before it and can never be predicted.
    """
    for name, value in (("prompt", prompt), ("response", response)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not response.strip():
        raise ValueError(f"the response is empty (prompt starts {prompt[:40]!r}); an SFT example needs "
                         "something for the model to learn to say")
    eos = tokenizer.eos_token_id
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"] or [eos]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [eos]
    input_ids = prompt_ids + response_ids
    if max_length is not None and len(input_ids) > max_length:
        raise ValueError(f"example is {len(input_ids)} tokens ({len(prompt_ids)} prompt + {len(response_ids)} "
                         f"response incl. EOS), longer than max_length={max_length}; shorten it or raise max_length "
                         f"(prompt starts {prompt[:40]!r})")
    return {"input_ids": input_ids, "response_mask": [0] * len(prompt_ids) + [1] * len(response_ids)}


def encode_sft(dataset, tokenizer, max_length: int | None = None, template: bool = True):
    """Encode a `datasets.Dataset` of SFT rows (adds input_ids, response_mask, length columns).

    `template=True` wraps each prompt in the instruction template (`data.format_prompt`). Rows that
    are too long raise with their id instead of being silently dropped or truncated.
    """
    max_length = max_length or getattr(tokenizer, "model_max_length", None)
    if max_length is not None and max_length > 1_000_000:   # HF's "no limit" sentinel
        max_length = None

    def one(row):
        prompt = format_prompt(row["prompt"]) if template else row["prompt"]
        try:
            enc = encode_example(tokenizer, prompt, row["response"], max_length)
        except (ValueError, TypeError) as e:
            raise ValueError(f"row id={row.get('id')!r}: {e}") from None
        enc["length"] = len(enc["input_ids"])
        return enc

    return dataset.map(one, desc=None)


def encode_text(tokenizer, text: str, max_length: int | None = None) -> dict:
    """A pre-training document as an example whose every token carries loss (used for replay)."""
    ids = [tokenizer.eos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]
    if max_length is not None:
        ids = ids[:max_length]
    return {"input_ids": ids, "response_mask": [0] + [1] * (len(ids) - 1)}


def pack_rows(lengths: list[int], capacity: int) -> list[list[int]]:
    """Group example indices into as few rows of at most `capacity` tokens as a greedy packer finds,
    with rows of similar length (rows are padded to the longest): start with the fewest rows the total
    allows, put each example (longest first) into the emptiest row, and open a new row only when it
    fits nowhere. An example longer than `capacity` gets a row of its own."""
    n_rows = max(1, -(-sum(lengths) // capacity))
    rows: list[list[int]] = [[] for _ in range(n_rows)]
    used = [0] * n_rows
    for i in sorted(range(len(lengths)), key=lambda j: -lengths[j]):
        k = min(range(len(rows)), key=used.__getitem__)
        if used[k] and used[k] + lengths[i] > capacity:
            rows.append([])
            used.append(0)
            k = len(rows) - 1
        rows[k].append(i)
        used[k] += lengths[i]
    return [row for row in rows if row]


def split_by_length(lengths: list[int], ratio: float = 1.5) -> list[list[int]]:
    """Cut one batch into groups of similar length (sorted; a new group starts when an example is more
    than `ratio` times the group's shortest), to be padded separately. The groups are micro-batches of
    *one* optimizer step, normalised by the whole step's token count (notebook 02's accumulation rule),
    so the gradient is exactly that of the mixed batch; only the padding goes."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    for i in order:
        if groups and lengths[i] <= ratio * lengths[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def packed_positions(lengths: list[int], capacity: int, multiple_of: int = 8) -> int:
    """How many positions a packed batch of these lengths computes (rows x padded row length)."""
    rows = pack_rows(lengths, capacity)
    longest = max(sum(lengths[i] for i in row) for row in rows)
    return len(rows) * (-(-longest // multiple_of) * multiple_of)


def collate_packed(examples: list[dict], pad_token_id: int, capacity: int, multiple_of: int = 8) -> dict:
    """Padding-free batching: lay the examples end to end in rows of at most `capacity` tokens.

    Every example keeps its own positions (`position_ids` restart at 0) and sees only itself: the
    attention mask is block-diagonal and causal, shape (rows, 1, T, T), True where a token may look.
    The loss needs no change: the first token of every example is a prompt token (mask 0), so nothing
    is ever predicted across the seam between two examples. Rows are padded to a common length that is
    a multiple of `multiple_of` (fewer distinct shapes for torch.compile); a padding token looks only at
    earlier padding of its row, so no attention row is empty (an empty row would give NaN).
    """
    if not examples:
        raise ValueError("collate_packed() got an empty batch")
    for i, e in enumerate(examples):
        if len(e["response_mask"]) != len(e["input_ids"]):
            raise ValueError(f"example {i} of the batch: input_ids has {len(e['input_ids'])} tokens but "
                             f"response_mask has {len(e['response_mask'])}")
    rows = pack_rows([len(e["input_ids"]) for e in examples], capacity)
    longest = max(sum(len(examples[i]["input_ids"]) for i in row) for row in rows)
    T = -(-longest // multiple_of) * multiple_of
    ids = torch.full((len(rows), T), pad_token_id, dtype=torch.long)
    positions = torch.zeros((len(rows), T), dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    segment = torch.full((len(rows), T), -1, dtype=torch.long)       # -1: padding
    for r, row in enumerate(rows):
        start = 0
        for k, i in enumerate(row):
            n = len(examples[i]["input_ids"])
            ids[r, start:start + n] = torch.as_tensor(examples[i]["input_ids"])
            mask[r, start:start + n] = torch.as_tensor(examples[i]["response_mask"])
            positions[r, start:start + n] = torch.arange(n)
            segment[r, start:start + n] = k
            start += n
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    attention = (segment[:, :, None] == segment[:, None, :]) & causal
    return {"input_ids": ids, "position_ids": positions, "attention_mask": attention[:, None],
            "response_mask": mask, "real_tokens": int((segment >= 0).sum())}


def collate(examples: list[dict], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Pad a list of encoded examples to the longest one in *this* batch (dynamic padding).

    Padding goes on the right with attention_mask 0 and response_mask 0, so padded positions neither
    attend nor carry loss.
    """
    if not examples:
        raise ValueError("collate() got an empty batch")
    longest = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), longest), pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(examples), longest), dtype=torch.long)
    mask = torch.zeros((len(examples), longest), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        if len(e["response_mask"]) != n:
            raise ValueError(f"example {i} of the batch: input_ids has {n} tokens but response_mask has "
                             f"{len(e['response_mask'])}")
        ids[i, :n] = torch.as_tensor(e["input_ids"])
        attention[i, :n] = 1
        mask[i, :n] = torch.as_tensor(e["response_mask"])
    return {"input_ids": ids, "attention_mask": attention, "response_mask": mask}
