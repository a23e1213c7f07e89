"""Replay: mix a share of pre-training text into the SFT training set (notebook 04).

Fine-tuning on one narrow task moves the weights that also hold what pre-training stored, and general
knowledge fades (catastrophic forgetting). Replay keeps rehearsing the old distribution: some examples
of every epoch are plain pre-training documents, trained with the ordinary next-token loss on every
token. The share is counted in *examples* of the final training set; the SFT examples are all kept,
so a run with the same number of steps sees fewer SFT examples per step as the share grows.

Replay documents come only from the pre-training corpus (`data/pretrain/`), never from the held-out
text that perplexity is measured on nor from any SFT validation or test split.
"""
from __future__ import annotations

import random
import re

from .data import load_pretraining
from .encode import encode_text


def replay_pool(tokenizer, corpus: str = "augmented", max_length: int | None = None,
                people: set[str] | frozenset[str] | None = None) -> list[dict]:
    """Every document of a pre-training corpus as an example whose tokens all carry loss; with `people`,
    only the documents that name one of them (so the rest of the world is never rehearsed)."""
    max_length = max_length or tokenizer.model_max_length
    rows = load_pretraining(corpus)
    if people is not None:
        if not people:
            raise ValueError("people=set(): name at least one person whose documents replay may draw")
        named = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(people))) + r")\b")
        rows = [r for r in rows if named.search(r["text"])]
    return [dict(encode_text(tokenizer, row["text"], max_length), source="pretrain", id=row["id"]) for row in rows]


def replay_count(n_sft: int, share: float) -> int:
    """How many replay examples make up `share` of a set that keeps all `n_sft` SFT examples."""
    if not 0 <= share < 1:
        raise ValueError(f"share={share!r}: the replay share must be in [0, 1) (1 would leave no SFT data)")
    if n_sft < 1:
        raise ValueError("there are no SFT examples to mix replay into")
    return round(share * n_sft / (1 - share))


def mix_with_replay(sft_examples, replay_examples, share: float, seed: int = 0) -> list[dict]:
    """All SFT examples plus `replay_count(len(sft), share)` replay examples, shuffled together.

    Replay examples are drawn without replacement while the pool lasts (then the pool is reshuffled
    and drawn again), so no document repeats before every document has been used.
    """
    sft = list(sft_examples.to_list() if hasattr(sft_examples, "to_list") else sft_examples)
    pool = list(replay_examples)
    k = replay_count(len(sft), share)
    if k and not pool:
        raise ValueError(f"share={share} needs {k} replay examples but the replay pool is empty")
    rng = random.Random(seed)
    drawn: list[dict] = []
    while len(drawn) < k:
        order = pool[:]
        rng.shuffle(order)
        drawn += order[: k - len(drawn)]
    mixed = [{"input_ids": e["input_ids"], "response_mask": e["response_mask"], "source": "sft"} for e in sft]
    mixed += [{"input_ids": e["input_ids"], "response_mask": e["response_mask"], "source": "pretrain"} for e in drawn]
    rng.shuffle(mixed)
    return mixed
