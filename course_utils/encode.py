"""From (prompt, response) text to token ids with a response mask, and from examples to batches.

The mask says which tokens the model must learn to *produce*: every response token and the EOS that
ends the response (without it the model never learns to stop). Prompt and padding tokens get 0.

Prompt and response are tokenized separately and concatenated. Byte-level BPE may merge across the
seam when the two are tokenized as one string (a prompt ending in a space, a response starting with
one); tokenizing separately keeps the seam exactly where the text has it, so the masked tokens decode
back to the response, and generation starts from the same prompt tokens training saw.
"""
from __future__ import annotations

import enum
import random

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
    """How many positions a packed batch of these lengths computes (rows x padded row length), as
    `collate(..., rows=pack_rows(lengths, max_tokens), multiple_of=64)` lays it out."""
    rows = pack_rows(lengths, max_tokens or sum(lengths))
    return len(rows) * _round_up(max(sum(lengths[i] for i in row) for row in rows), multiple_of)


def to_device(batch: dict, device) -> dict:
    """The batch with its tensors on `device` (pinned first on a GPU, so the copy does not block the CPU);
    the Python counts stay as they are."""
    device = torch.device(device)
    pin = device.type == "cuda"
    return {k: (v.pin_memory() if pin else v).to(device, non_blocking=True) if torch.is_tensor(v) else v
            for k, v in batch.items()}


def collate(examples: list[dict], pad_token_id: int, rows: list[list[int]] | None = None,
            multiple_of: int = 1) -> dict:
    """The course's one batch format, padded or packed.

    `rows=None` puts one example in each row, padded on the right to the longest (dynamic padding).
    `rows=[[0, 3], [1, 2], ...]` packs: row r holds the examples `rows[r]` end to end (`pack_rows` finds
    such rows). Rows are padded to a common length, a multiple of `multiple_of`. The batch holds:

      input_ids, response_mask  (rows, T): the tokens, and 1 where a token must be produced (notebook 02);
      attention_mask            (rows, T): 1 on real tokens, 0 on padding (for a padded batch, what a
                                Hugging Face model takes to ignore the padding);
      position_ids              (rows, T): each token's position inside its own example, restarting at 0
                                for every example (and for the trailing padding), which is how a packed row
                                tells the model where its examples start (transformers then keeps them apart);
      predict_at, targets       (N,): flat indices into rows x T of the positions whose *next* token carries
                                loss, and those tokens, so a loss needs the logits at these positions only;
      loss_tokens, real_tokens  Python ints (N, and the non-padding tokens), `target_counts` (N per example,
                                row by row), and `packed` (True when a row holds several examples).

    Everything is worked out here, on the CPU, from Python lists, so a training step never has to read a
    count or an index back from the GPU. Only positions inside an example predict, so nothing is ever
    predicted across a seam between two packed examples.
    """
    if not examples:
        raise ValueError("collate() got an empty batch")
    for i, e in enumerate(examples):
        if len(e["response_mask"]) != len(e["input_ids"]):
            raise ValueError(f"example {i} of the batch: input_ids has {len(e['input_ids'])} tokens but "
                             f"response_mask has {len(e['response_mask'])}")
    rows = [[i] for i in range(len(examples))] if rows is None else rows
    T = _round_up(max(sum(len(examples[i]["input_ids"]) for i in row) for row in rows), multiple_of)
    ids, mask, real, positions, predict_at, targets, counts = [], [], [], [], [], [], []
    for r, row in enumerate(rows):
        used = 0
        for i in row:
            x, m = examples[i]["input_ids"], examples[i]["response_mask"]
            scored = [t for t in range(1, len(x)) if m[t]]
            predict_at += [r * T + used + t - 1 for t in scored]
            targets += [x[t] for t in scored]
            counts.append(len(scored))
            ids += x
            mask += m
            positions += range(len(x))
            used += len(x)
        pad = T - used
        ids += [pad_token_id] * pad
        mask += [0] * pad
        real += [1] * used + [0] * pad
        positions += range(pad)
    shape = (len(rows), T)
    return {"input_ids": torch.tensor(ids).view(shape), "response_mask": torch.tensor(mask).view(shape),
            "attention_mask": torch.tensor(real).view(shape), "position_ids": torch.tensor(positions).view(shape),
            "predict_at": torch.tensor(predict_at, dtype=torch.long), "targets": torch.tensor(targets, dtype=torch.long),
            "loss_tokens": len(targets), "real_tokens": sum(real), "target_counts": counts,
            "packed": any(len(row) > 1 for row in rows)}


class Layout(str, enum.Enum):
    """How a random batch is laid out in memory; the loss and the gradient are the same for all four."""
    SPLIT = "split"        # cut into parts of similar length, each padded to its own longest (fastest measured)
    PACKED = "packed"      # end to end in rows, positions restarting per example (`encode.pack_rows`)
    PADDED = "padded"      # one example per row, padded to the batch's longest
    SORTED = "sorted"      # padded, but batches drawn from length-sorted windows: little padding, single-task batches


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random,
                           group_by_length: bool = True, window: int = 64) -> list[list[int]]:
    """Shuffle example indices into batches; with grouping, sort windows of `window` batches by length
    first so each batch holds similar lengths (less padding), then shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        span = batch_size * window
        order = [i for s in range(0, len(order), span)
                 for i in sorted(order[s: s + span], key=lambda j: lengths[j])]
    batches = [order[s: s + batch_size] for s in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def lay_out(examples: list[dict], pad_token_id: int, layout: Layout, row_tokens: int) -> list[dict]:
    """One micro-batch as the `encode.collate` batches the loop computes, all parts of the same step."""
    lengths = [len(e["input_ids"]) for e in examples]
    if layout is Layout.PACKED:
        return [collate(examples, pad_token_id, rows=pack_rows(lengths, row_tokens), multiple_of=64)]
    if layout is Layout.SPLIT:
        return [collate([examples[i] for i in part], pad_token_id) for part in split_by_length(lengths)]
    return [collate(examples, pad_token_id)]


# A packed row holds at most this many tokens (or the model's context, if longer): one row per batch of
# notebook 03 (8 examples, about 1,300 tokens). Longer rows cost more in attention on a CPU, where the
# mask transformers builds is dense and every masked pair is still computed.
PACKED_ROW_TOKENS = 2048
