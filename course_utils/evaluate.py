"""Measuring a model: fact probes, perplexity, greedy generation, and task scores (scorers in `scorers`).

General knowledge is measured two ways: fact probes (does greedy decoding complete "Ada Torwick works
for" with the right employer?) and perplexity on held-out pre-training-style text. Task skill is
measured by generating a reply and checking the facts in it, never by comparing strings whole: a reply
may be worded differently and still be right.
"""
from __future__ import annotations

import math

import torch
from transformers import GenerationConfig

from .chat_template import render_prompt
from .data import load_eval
from .encode import collate, encode_text, to_device
from .loss import response_nll
from .models import eval_mode
from .scorers import SCORERS


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, batch_size: int = 64,
             progress: bool = False, temperature: float | None = None, seed: int = 0) -> list[str]:
    """Continuations of raw text prompts (no template added), cut at the first EOS.

    Decoding is Hugging Face's `model.generate` on left-padded batches: greedy (the arg-max token) by
    default, or, with `temperature`, a sample from softmax(logits / temperature) over the whole
    vocabulary (no top-k or top-p cut), drawn from a random stream seeded by `seed`, so sampled replies
    are reproducible and the caller's random state is left as it was. The model is put in eval mode
    (no dropout) for the call and handed back in the mode it came in.
    """
    return generate_until(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                          progress=progress, temperature=temperature, seed=seed)["texts"]


@torch.no_grad()
def generate_until(model, tokenizer, prompts: list[str], stop_token_ids: list[int] | None = None,
                   max_new_tokens: int = 64, batch_size: int = 64, progress: bool = False,
                   temperature: float | None = None, top_p: float | None = None, seed: int = 0) -> dict:
    """`generate`, stopping at any of `stop_token_ids` (default: the tokenizer's EOS), with an optional
    nucleus cut `top_p` when sampling. Returns {"texts": each continuation cut before its first stop
    token, "stopped": whether a stop token came within max_new_tokens, "stop_ids": that stop token's id,
    or None}: a reply that never stops is
    cut by the length limit, the failure a chat model shows when its end-of-turn token was not learned.
    Padding uses the EOS id, which is never a reason to stop unless it is in `stop_token_ids`.
    """
    if isinstance(prompts, str):
        raise TypeError("generate() takes a list of prompts; wrap a single prompt in a list")
    if temperature is not None and temperature <= 0:
        raise ValueError(f"temperature must be > 0 (or None for greedy decoding), got {temperature}")
    if top_p is not None and (temperature is None or not 0 < top_p <= 1):
        raise ValueError(f"top_p={top_p}: a nucleus cut needs sampling (a temperature) and 0 < top_p <= 1")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    eos = tokenizer.eos_token_id
    stops = [eos] if stop_token_ids is None else list(stop_token_ids)
    if not stops or not all(isinstance(t, int) and 0 <= t < model.get_output_embeddings().weight.shape[0]
                            for t in stops):
        raise ValueError(f"stop_token_ids={stop_token_ids}: give token ids of the model's vocabulary")
    device = next(model.parameters()).device
    limit = model.config.n_positions
    config = GenerationConfig(max_new_tokens=max_new_tokens, eos_token_id=stops, pad_token_id=eos,
                              do_sample=temperature is not None,
                              **({"temperature": float(temperature), "top_k": 0, "top_p": float(top_p or 1.0)}
                                 if temperature is not None else {}))
    texts, stopped, stop_ids = [], [], []
    batches = range(0, len(prompts), batch_size)
    if progress:
        from tqdm.auto import tqdm
        batches = tqdm(batches, desc="generating")
    # A private random stream for sampling: the same seed gives the same replies, whatever ran before.
    fork_devices = [device] if device.type == "cuda" else []
    with eval_mode(model), torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        for start in batches:
            # Left padding: every row's last prompt token sits at the same position, where generation
            # continues; generate derives the positions from the attention mask, so a padded prompt reads
            # exactly as the same prompt alone.
            batch = tokenizer(prompts[start: start + batch_size], padding=True, padding_side="left",
                              return_tensors="pt").to(device)
            longest = batch["input_ids"].shape[1]
            if longest + max_new_tokens > limit:
                raise ValueError(f"a prompt of {longest} tokens plus max_new_tokens={max_new_tokens} exceeds the "
                                 f"model's {limit} positions; shorten the prompt or lower max_new_tokens")
            new = model.generate(**batch, generation_config=config)[:, longest:]
            for row in new.tolist():
                end = next((i for i, t in enumerate(row) if t in stops), None)
                stopped.append(end is not None)
                stop_ids.append(None if end is None else row[end])
                texts.append(tokenizer.decode(row if end is None else row[:end]))
    return {"texts": texts, "stopped": stopped, "stop_ids": stop_ids}


def reply(model, tokenizer, prompts: list, max_new_tokens: int = 64, batch_size: int = 64,
          progress: bool = False, temperature: float | None = None, seed: int = 0) -> list[str]:
    """The assistant's next reply to each prompt, greedy unless `temperature`.

    A prompt is a user message (a string) or a conversation so far (a list of messages ending with a user
    turn). Either is rendered by the tokenizer's chat template with the assistant's turn opened
    (`chat_template.render_prompt`): the layout training used, for one turn the instruction template."""
    if isinstance(prompts, (str, dict)):
        raise TypeError("reply() takes a list of prompts; wrap a single prompt or conversation in a list")
    texts = [render_prompt(tokenizer, [{"role": "user", "content": p}] if isinstance(p, str) else p)
             for p in prompts]
    return generate(model, tokenizer, texts, max_new_tokens, batch_size, progress, temperature, seed)


def prompt_of(row: dict):
    """What a model replies to when it is scored on an SFT row: the user prompt of a prompt/response row,
    or a conversation cut just before its scored assistant turn (`support_chat`: the follow-up's reply)."""
    if row.get("messages"):
        return list(row["messages"][: row["scored_message"]])
    return row["prompt"]


# ---------------------------------------------------------------------------------------------
# General knowledge
# ---------------------------------------------------------------------------------------------
def load_probes(kind: str | None = None) -> list[dict]:
    rows = load_eval("fact_probes").to_list()
    return [r for r in rows if kind is None or r["kind"] == kind]


def probe_correct(continuation: str, answer: str) -> bool:
    """Greedy continuation starts with the answer, and the answer is not the start of a longer word."""
    if not continuation.startswith(answer):
        return False
    rest = continuation[len(answer):]
    return not rest or not rest[0].isalnum()


def fact_probe_accuracy(model, tokenizer, probes: list[dict] | None = None, batch_size: int = 64) -> dict:
    """Share of fact probes that greedy decoding completes with the right answer.

    Each probe is read as the start of a new document, i.e. after <|endoftext|>, as every pre-training
    document was (GPT-2 uses its EOS token as the start-of-text marker too).
    """
    probes = load_probes() if probes is None else probes
    longest = max(len(tokenizer(p["answer"])["input_ids"]) for p in probes)
    outs = generate(model, tokenizer, [tokenizer.eos_token + p["prompt"] for p in probes],
                    max_new_tokens=longest + 1, batch_size=batch_size)
    hits = [probe_correct(o, p["answer"]) for o, p in zip(outs, probes)]
    by_attribute: dict[str, list[bool]] = {}
    for p, h in zip(probes, hits):
        by_attribute.setdefault(p["attribute"], []).append(h)
    return {"accuracy": sum(hits) / len(hits), "n": len(hits),
            "by_attribute": {a: sum(v) / len(v) for a, v in by_attribute.items()},
            "correct": hits, "continuations": outs}


@torch.no_grad()
def choice_accuracy(model, tokenizer, probes: list[dict] | None = None, batch_size: int = 256) -> dict:
    """Share of fact probes whose true value the model ranks first among every value the attribute takes
    (the answers of all probes of that attribute), by the log-probability of the whole value after the
    probe's prompt. Unlike `fact_probe_accuracy` it does not depend on what the model chooses to write
    next, so a model that now answers in another format but still ranks the right value first keeps it.
    """
    probes = load_probes() if probes is None else probes
    if not probes:
        raise ValueError("probes=[]: nothing to rank")
    candidates = _attribute_values()
    rows, owners = [], []
    for i, p in enumerate(probes):
        prompt = tokenizer(tokenizer.eos_token + p["prompt"])["input_ids"]
        for value in sorted(candidates.get(p["attribute"], set()) | {p["answer"]}):
            ids = tokenizer(value)["input_ids"]
            rows.append({"input_ids": prompt + ids, "response_mask": [0] * len(prompt) + [1] * len(ids)})
            owners.append((i, value))
    device = next(model.parameters()).device
    best: dict[int, tuple[float, str]] = {}
    with eval_mode(model):
        for start in range(0, len(rows), batch_size):
            batch = collate(rows[start: start + batch_size], tokenizer.eos_token_id)
            losses = response_nll(model, to_device(batch, device), per_token=True).cpu()
            for (i, value), loss in zip(owners[start: start + batch_size], losses.split(batch["target_counts"])):
                score = -loss.sum().item()
                if i not in best or score > best[i][0]:
                    best[i] = (score, value)
    hits = [best[i][1] == p["answer"] for i, p in enumerate(probes)]
    return {"accuracy": sum(hits) / len(hits), "n": len(hits), "correct": hits,
            "chosen": [best[i][1] for i in range(len(probes))], "chance": choice_chance(probes)}


def _attribute_values() -> dict[str, set[str]]:
    values: dict[str, set[str]] = {}
    for p in load_probes():
        values.setdefault(p["attribute"], set()).add(p["answer"])
    return values


def choice_chance(probes: list[dict]) -> float:
    """The multiple-choice probe's score for a model that picks a value at random: mean of 1 / (values the
    attribute takes) over the probes."""
    values = _attribute_values()
    return sum(1 / len(values.get(p["attribute"], set()) | {p["answer"]}) for p in probes) / len(probes)


@torch.no_grad()
def perplexity(model, tokenizer, texts: list[str] | None = None, batch_size: int = 16) -> float:
    """exp(mean negative log-likelihood per token) over documents, each started after an EOS (every
    token but that first one is predicted). Measured in eval mode; the model's mode is given back."""
    texts = [r["text"] for r in load_eval("heldout_text")] if texts is None else texts
    device = next(model.parameters()).device
    documents = [encode_text(tokenizer, t, model.config.n_positions) for t in texts]
    total, count = torch.zeros((), device=device), 0
    with eval_mode(model):
        for start in range(0, len(documents), batch_size):
            batch = collate(documents[start: start + batch_size], tokenizer.eos_token_id)
            total += response_nll(model, to_device(batch, device))
            count += batch["loss_tokens"]
    return math.exp(total.item() / count)


# ---------------------------------------------------------------------------------------------
# Task skill: generate, then score with the task's scorer (`scorers`)
# ---------------------------------------------------------------------------------------------
def task_score(model, tokenizer, rows, task: str | None = None, max_new_tokens: int = 64,
               batch_size: int = 64, progress: bool = False) -> dict:
    """Generate a reply for every row and score it with the task's scorer."""
    rows = rows.to_list() if hasattr(rows, "to_list") else list(rows)
    task = task or rows[0]["task"]
    if task not in SCORERS:
        raise ValueError(f"no scorer for task {task!r}; choose one of {sorted(SCORERS)}")
    replies = reply(model, tokenizer, [prompt_of(r) for r in rows], max_new_tokens, batch_size, progress)
    correct = [SCORERS[task](t, r) for t, r in zip(replies, rows)]
    return {"score": sum(correct) / len(correct), "n": len(correct), "correct": correct, "replies": replies}

