"""A chat format with tokens of its own, and the pitfalls that come with them (notebook 07, section 7).

The course's template marks roles with plain-text headers and ends each reply with `<|endoftext|>`, the
token that also separates documents and pads batches. `chat_template.with_chat_tokens` gives a copy of
the tokenizer role tokens and an end-of-turn token `<|end|>`; the model then needs an embedding row for
each (`add_chat_tokens`). This module trains gpt2-tiny on QA through either template and measures each
reply two ways: is it right (the QA scorer) and did it stop (an end token within the length limit).

Settings, each one change from "chat tokens" (all on the same rows, steps, batch and evaluation):
  "course template"           the shipped template, EOS as end of turn (the baseline);
  "chat tokens"               the new template, full fine-tuning, <|end|> in the loss;
  "chat tokens, end masked"   the same, with the reply's <|end|> left out of the loss (as when the
                              end-of-turn token is treated as padding);
  "LoRA, new rows untrained"  LoRA adapters only: the new tokens keep their initial embedding rows
                              (mean-initialised: the four rows one vector, so no adapter can rank one
                              new token above another);
  "LoRA, new rows untrained (random init)"  the same with the rows drawn at random instead
                              (`mean_resizing=False`: GPT-2's init, normal with std initializer_range);
  "LoRA + token rows"         LoRA plus peft's `trainable_token_indices` on the new tokens' rows.
"""
from __future__ import annotations

import contextlib
import copy
import re
import time

import datasets
import torch
from transformers.utils import logging as hf_logging

from .adapters import add_lora
from .chat_template import (CHAT_TEMPLATE, END_OF_TURN, ROLE_TOKENS, render_prompt, template_assistant_mask,
                            with_chat_tokens)
from .data import load_sft
from .encode import encode_sft
from .evaluate import generate_until
from .generalization import sample_rows
from .scorers import score_qa
from .train import TrainConfig, train_sft

SETTINGS = ("course template", "chat tokens", "chat tokens, end masked", "LoRA, new rows untrained",
            "LoRA, new rows untrained (random init)", "LoRA + token rows")
RANDOM_INIT = "LoRA, new rows untrained (random init)"
# Notebook 05's QA run (generalization.QA_RUN: batch 16, peak lr 1e-3) for 240 steps, where both templates
# score well on held-out wordings: one pass over the first 3,840 QA training rows; 200 held-out questions.
RECIPE = dict(max_steps=240, batch_size=16, lr=1e-3)
SIZE = dict(train=3840, test=200)
LORA_RANK = 8
LORA_LRS = (1e-3, 3e-3, 1e-2, 3e-2)         # LoRA's own learning rate, picked on the course template first
MAX_NEW_TOKENS = 32                     # a QA answer is about 12 tokens: a reply that has not stopped by 32 runs on
DECODING = {"greedy": {}, "T=0.7": {"temperature": 0.7}, "T=1.0": {"temperature": 1.0},
            "T=1.0, top-p 0.9": {"temperature": 1.0, "top_p": 0.9}}


def add_chat_tokens(model, tokenizer, seed: int = 0, mean_resizing: bool = True):
    """Give `model` (in place) an embedding row for each token `with_chat_tokens` adds; return
    (model, the tokenizer copy, the new token ids).

    `resize_token_embeddings(mean_resizing=True)` (transformers' default) draws each new row from a normal
    distribution with the mean of the old rows and 1e-9 times their covariance: every new token starts at
    (almost exactly) the average embedding, so its logit starts near the average logit instead of at an
    arbitrary value, and the new tokens start nearly indistinguishable from one another. The draw uses
    torch's random stream, seeded here by `seed`. `mean_resizing=False` draws the new rows instead with the
    model's own initialisation (`_init_weights`; for GPT-2 a normal with mean 0 and std
    `config.initializer_range`, 0.02), from the same seeded stream: four distinct, short rows. GPT-2 ties its output layer to the input embeddings;
    the resize re-ties them (checked)."""
    chat_tok = with_chat_tokens(tokenizer)
    new_ids = chat_tok.convert_tokens_to_ids([*ROLE_TOKENS.values(), END_OF_TURN])
    with torch.random.fork_rng(), _quiet_transformers():
        torch.manual_seed(seed)
        model.resize_token_embeddings(len(chat_tok), mean_resizing=mean_resizing)
    if model.config.tie_word_embeddings and model.get_output_embeddings().weight is not model.get_input_embeddings().weight:
        raise RuntimeError("the resize untied the output layer from the input embeddings")
    return model, chat_tok, new_ids


@contextlib.contextmanager
def _quiet_transformers():
    # The resize logs what mean_resizing does (documented above) on stderr, once per call.
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def encode_chat(chat_tok, rows, learn_end: bool = True) -> list[dict]:
    """QA rows as one-turn conversations through the tokenizer's chat template: input_ids and the
    assistant mask from `apply_chat_template` (the library route). `learn_end=False` takes the reply's
    end-of-turn token out of the mask: the model reads it but is never asked to produce it."""
    end = chat_tok.convert_tokens_to_ids(END_OF_TURN)
    encoded = []
    for row in rows:
        ids, mask = template_assistant_mask(chat_tok, [{"role": "user", "content": row["prompt"]},
                                                       {"role": "assistant", "content": row["response"]}])
        if not learn_end:
            mask = [0 if t == end else m for t, m in zip(ids, mask)]
        encoded.append({"input_ids": ids, "response_mask": mask})
    return encoded


def qa_sets(size: dict = SIZE) -> tuple[list[dict], list[dict]]:
    """The training rows (the first size["train"] of QA's train split) and the test rows (a fixed sample
    of held-out question wordings about the same people, `test_phrasings`)."""
    return (load_sft("qa", "train").select(range(size["train"])).to_list(),
            sample_rows("qa", "test_phrasings", size["test"]))


def new_rows(model, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows the model uses for token `ids`, on the input side (what the embedding layer returns) and
    the output side (the output layer's weights for them, read through its forward so that a peft
    wrapper's trained rows count)."""
    with torch.no_grad():
        inputs = model.get_input_embeddings()(torch.tensor(ids, device=model.device)).float().cpu()
        eye = torch.eye(model.config.n_embd, device=model.device)
        outputs = model.get_output_embeddings()(eye)[:, ids].T.float().cpu()
    return inputs, outputs


def row_change(before: torch.Tensor, after: torch.Tensor) -> float:
    """Mean over rows of |after - before| / |before| (0.0: the rows did not move)."""
    return ((after - before).norm(dim=1) / before.norm(dim=1)).mean().item()


def train_setting(setting: str, seed: int, train_rows: list[dict], base_model, tokenizer,
                  recipe: dict = RECIPE, lora_lr: float | None = None):
    """Fine-tune a copy of `base_model` in `setting` (one of SETTINGS, or "LoRA, course template" for
    choosing LoRA's rate); return (model, the tokenizer to use with it, a dict of what the run measured:
    final training loss, seconds, and for the new template the new rows' change on each side)."""
    if setting not in SETTINGS and setting != "LoRA, course template":
        raise ValueError(f"setting={setting!r}: choose one of {SETTINGS} or 'LoRA, course template'")
    lora = setting.startswith("LoRA")
    if lora and lora_lr is None:
        raise ValueError(f"lora_lr is needed for {setting!r} (LoRA trains at its own learning rate)")
    model = copy.deepcopy(base_model)
    if setting in ("course template", "LoRA, course template"):
        tok, new_ids = tokenizer, []
        data = encode_sft(datasets.Dataset.from_list(train_rows), tokenizer)
    else:
        model, tok, new_ids = add_chat_tokens(model, tokenizer, mean_resizing=setting != RANDOM_INIT)
        data = encode_chat(tok, train_rows, learn_end=setting != "chat tokens, end masked")
    before = new_rows(model, new_ids) if new_ids else None
    if lora:
        model, _ = add_lora(model, LORA_RANK, trainable_token_indices=new_ids if setting == "LoRA + token rows" else None)
    started = time.time()
    run = train_sft(model, data, TrainConfig(**{**recipe, "lr": lora_lr if lora else recipe["lr"]}, seed=seed),
                    pad_token_id=tokenizer.eos_token_id, device="cpu", progress=False)
    info = {"final_train_loss": run.train_loss[-1], "seconds": round(time.time() - started, 1)}
    if before is not None:
        after = new_rows(model, new_ids)
        info["input_row_change"], info["output_row_change"] = (row_change(b, a) for b, a in zip(before, after))
    return model, tok, info


def chat_replies(model, tok, rows: list[dict], template: str = "own", decoding: dict | None = None,
                 seed: int = 0) -> dict:
    """Each row's reply to its question, scored: {"score", "value_score", "first_sentence_score",
    "stop_share", "stopped_by", "replies", "correct", "stopped", "stopped_with"}.

    "score" is the QA scorer's verdict (the right value, no other, about the right person); "value_score"
    drops the person rule (the right value and no other, whoever the reply names); "first_sentence_score"
    scores the reply up to its first full stop, so that what a run-on adds after the answer does not count.
    "stopped_by" is the share of replies each stop token ended ("<|end|>", "EOS"), the rest ran to the limit;
    "stopped_with" names each reply's stop token (None: cut at the limit).

    `template="own"` prompts through the tokenizer's own chat template; "course" through the course's
    plain-text template (for a model trained on the chat tokens: a template mismatch at inference).
    A reply stops at the tokenizer's end of turn (<|end|> where it has one) or at EOS."""
    if template not in ("own", "course"):
        raise ValueError(f"template={template!r}: choose 'own' or 'course'")
    conversations = [[{"role": "user", "content": r["prompt"]}] for r in rows]
    if template == "own":
        texts = [render_prompt(tok, c) for c in conversations]
    else:
        texts = [tok.apply_chat_template(c, chat_template=CHAT_TEMPLATE, tokenize=False, add_generation_prompt=True)
                 for c in conversations]
    stops = [tok.eos_token_id] + ([tok.convert_tokens_to_ids(END_OF_TURN)] if END_OF_TURN in tok.get_vocab() else [])
    out = generate_until(model, tok, texts, stops, max_new_tokens=MAX_NEW_TOKENS, seed=seed, **(decoding or {}))
    correct = [score_qa(t, r) for t, r in zip(out["texts"], rows)]
    value_right = [score_qa(t, {k: v for k, v in r.items() if k != "person"}) for t, r in zip(out["texts"], rows)]
    first_right = [score_qa(first_sentence(t), r) for t, r in zip(out["texts"], rows)]
    names = {tok.eos_token_id: "EOS", **{i: END_OF_TURN for i in stops[1:]}}
    return {"score": sum(correct) / len(rows), "value_score": sum(value_right) / len(rows),
            "first_sentence_score": sum(first_right) / len(rows), "stop_share": sum(out["stopped"]) / len(rows),
            "stopped_by": {name: sum(i == token for i in out["stop_ids"]) / len(rows) for token, name in names.items()},
            "replies": out["texts"], "correct": correct, "stopped": out["stopped"],
            "stopped_with": [names.get(i) for i in out["stop_ids"]]}


def first_sentence(text: str) -> str:
    """`text` up to and including its first full stop followed by a space or the end (all of it if none)."""
    match = re.match(r"(.*?\.)(?=\s|$)", text, flags=re.DOTALL)
    return match.group(1) if match else text
