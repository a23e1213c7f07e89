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

    A prompt/response row is one example; `template=True` wraps its prompt in the instruction template
    (`data.format_prompt`). A conversation row (`messages`, as in `support_chat`) is encoded through the
    chat template's layout by `chat_template.encode_conversation`, with every assistant turn under the
    mask; a one-turn conversation gives exactly the tokens of its prompt/response pair, so the two kinds
    of row mix in one training set. Rows that are too long raise with their id instead of being silently
    dropped or truncated.
    """
    from .chat_template import encode_conversation

    max_length = max_length or getattr(tokenizer, "model_max_length", None)
    if max_length is not None and max_length > 1_000_000:   # HF's "no limit" sentinel
        max_length = None

    def one(row):
        try:
            if row.get("messages"):
                if not template:
                    raise ValueError("a conversation is always encoded with its role headers; template=False "
                                     "only applies to prompt/response rows")
                return encode_conversation(tokenizer, row["messages"], max_length)
            prompt = format_prompt(row["prompt"]) if template else row["prompt"]
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


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def packed_positions(lengths: list[int], max_tokens: int | None = None, multiple_of: int = 64) -> int:
    """How many positions `collate_packed` computes for a batch of these lengths (rows x padded row length)."""
    rows = pack_rows(lengths, max_tokens or sum(lengths))
    return len(rows) * _round_up(max(sum(lengths[i] for i in row) for row in rows), multiple_of)


def collate_rows(examples: list[dict], rows: list[list[int]], pad_token_id: int, multiple_of: int = 1) -> dict:
    """Lay a batch out for the training loop: row r holds the examples `rows[r]` end to end.

    One example per row is a padded batch; several per row is a packed one (`collate_packed`). Every
    example keeps its own positions (`position_ids` restart at 0) and `segments` says which example of
    its row each token belongs to (-1 on padding), from which the loop builds the attention mask
    (`block_causal_mask`). Rows are padded on the right to a common length, a multiple of `multiple_of`.

    Everything the loss needs to know about shapes is worked out here, on the CPU, from Python lists:
    `predict_at` (flat indices into rows x T of the positions whose *next* token carries loss) and
    `targets` (those next tokens). So the training step never has to read a count or an index back from
    the GPU. Only positions inside an example predict, so nothing is ever predicted across a seam.
    Python ints ride along: `real_tokens` (not padding), `loss_tokens` (= len(targets)), and `packed`.
    """
    if not examples:
        raise ValueError("collate_rows() got an empty batch")
    for i, e in enumerate(examples):
        if len(e["response_mask"]) != len(e["input_ids"]):
            raise ValueError(f"example {i} of the batch: input_ids has {len(e['input_ids'])} tokens but "
                             f"response_mask has {len(e['response_mask'])}")
    T = _round_up(max(sum(len(examples[i]["input_ids"]) for i in row) for row in rows), multiple_of)
    ids, positions, segments, predict_at, targets = [], [], [], [], []
    for r, row in enumerate(rows):
        used = 0
        for k, i in enumerate(row):
            x, m = examples[i]["input_ids"], examples[i]["response_mask"]
            start = r * T + used
            predict_at += [start + t - 1 for t in range(1, len(x)) if m[t]]
            targets += [x[t] for t in range(1, len(x)) if m[t]]
            ids += x
            positions += range(len(x))
            segments += [k] * len(x)
            used += len(x)
        ids += [pad_token_id] * (T - used)
        positions += [0] * (T - used)      # padding: any valid position; it never reaches a real token
        segments += [-1] * (T - used)
    shape = (len(rows), T)
    return {"input_ids": torch.tensor(ids).view(shape), "position_ids": torch.tensor(positions).view(shape),
            "segments": torch.tensor(segments).view(shape), "predict_at": torch.tensor(predict_at, dtype=torch.long),
            "targets": torch.tensor(targets, dtype=torch.long), "real_tokens": sum(len(e["input_ids"]) for e in examples),
            "loss_tokens": len(targets), "packed": any(len(row) > 1 for row in rows)}


def collate_packed(examples: list[dict], pad_token_id: int, max_tokens: int | None = None,
                   multiple_of: int = 64) -> dict:
    """Padding-free batching: lay the examples end to end, in one row or in as few rows of at most
    `max_tokens` tokens as `pack_rows` finds (None: one row), padded to a multiple of `multiple_of`.

    A packed row needs two things a padded batch does not: positions that restart at 0 for every example
    (the model must see each example as if it were alone), and an attention mask that is block-diagonal
    as well as causal, so that no token looks at another example (`block_causal_mask`). The loss needs no
    change (`collate_rows`). Rounding the row length up to a multiple of 64 keeps the number of distinct
    shapes small (torch.compile compiles once per shape family) for a few percent of padding.
    """
    if not examples:
        raise ValueError("collate_packed() got an empty batch")
    lengths = [len(e["input_ids"]) for e in examples]
    return collate_rows(examples, pack_rows(lengths, max_tokens or sum(lengths)), pad_token_id, multiple_of)


def block_causal_mask(segments: torch.Tensor) -> torch.Tensor:
    """(rows, 1, T, T) boolean attention mask, True where a token may look: at earlier (or the same)
    tokens of its own example. Padding (segment -1) looks only at earlier padding of its row, so no row of
    the mask is empty (an empty row would give NaN). Built wherever `segments` lives, on the GPU too."""
    T = segments.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool, device=segments.device).tril()
    return ((segments[:, :, None] == segments[:, None, :]) & causal)[:, None]


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
