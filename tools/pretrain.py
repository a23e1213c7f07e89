"""Rebuild the course's tokenizer and base models from the generated corpus.

    python -m tools.pretrain                 # both models into data/models/ (~11 min each, 2-core CPU)
    python -m tools.pretrain --only single   # just the no-augmentation twin
    python -m tools.pretrain --only single_fullname   # its twin with the full name in every sentence
    python -m tools.pretrain --out /tmp/m    # somewhere else

Pre-training here is plain next-token prediction on packed documents: every token carries loss. It is
the phase *before* SFT, so this file is not a lesson of the course; notebook 02 writes the loss that SFT
changes, and `course_utils/train.py` the loop. The learning-rate schedule (linear warm-up over the first
2% of the steps, then a cosine decay to a tenth of the peak) and the seeding are transformers' own.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from tokenizers import ByteLevelBPETokenizer
from tqdm.auto import tqdm
from transformers import (GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast, get_cosine_with_min_lr_schedule_with_warmup,
                          set_seed)
from transformers.utils import logging as hf_logging

from course_utils.chat_template import CHAT_TEMPLATE
from course_utils.data import format_prompt
from course_utils.env import data_dir, pick_device

EOS = "<|endoftext|>"
VOCAB_SIZE = 4096
# ~2.6M parameters: small enough to fine-tune on a 2-core CPU in a couple of minutes, large enough to
# store every fact of the world (about 1,600 facts).
MODEL_SHAPE = dict(n_layer=4, n_embd=192, n_head=4, n_positions=320,
                   # GPT-2's tanh-approximated GELU, as PyTorch's fused kernel (GPT-2's own "gelu_new" is the
                   # same function written out in five operations: a sixth slower training step on a CPU).
                   activation_function="gelu_pytorch_tanh")
# model name: the corpus (data/pretrain/<corpus>.jsonl) it is pre-trained on
MODELS = {"gpt2-tiny": "augmented", "gpt2-tiny-single": "single", "gpt2-tiny-single-fullname": "single_fullname"}


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _all_text(data: Path):
    """Everything the course will ever tokenize, so that no common word falls apart into bytes."""
    for row in _read_jsonl(data / "pretrain" / "augmented.jsonl"):
        yield row["text"]
    for path in sorted((data / "sft").glob("*/train.jsonl")):
        for row in _read_jsonl(path):
            # Conversations (support_chat) came after the shipped tokenizer and hold the same support
            # text, so they stay out: the tokenizer rebuilds as shipped.
            if "prompt" in row:
                yield format_prompt(row["prompt"]) + row["response"]


def train_tokenizer(data: Path, out: Path) -> GPT2TokenizerFast:
    """A GPT-2-style byte-level BPE trained on the world's text, with <|endoftext|> as EOS and padding."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(_all_text(data), vocab_size=VOCAB_SIZE, min_frequency=2,
                            special_tokens=[EOS], show_progress=False)
    tok = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS,
                            pad_token=EOS, clean_up_tokenization_spaces=False)
    tok.model_max_length = MODEL_SHAPE["n_positions"]
    tok.chat_template = CHAT_TEMPLATE      # saved beside it as chat_template.jinja
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(out)
    return tok


def packed_blocks(texts: list[str], tok, block: int, generator: torch.Generator) -> torch.Tensor:
    """Shuffle documents, join them with EOS, cut the stream into (n, block) rows."""
    order = torch.randperm(len(texts), generator=generator).tolist()
    ids: list[int] = []
    for i in order:
        ids += tok(texts[i])["input_ids"] + [tok.eos_token_id]
    n = len(ids) // block
    return torch.tensor(ids[: n * block]).view(n, block)


def pretrain_model(corpus: str, tok, out: Path, *, steps: int = 2400, batch_size: int = 8, lr: float = 2e-3,
                   seed: int = 0, device=None, log_every: int = 100) -> dict:
    """Train a fresh GPT2LMHeadModel on one corpus (a value of MODELS) and save it to `out`."""
    set_seed(seed)
    device = pick_device(device)
    texts = [r["text"] for r in _read_jsonl(data_dir() / "pretrain" / f"{corpus}.jsonl")]
    # No pad_token_id, as in OpenAI's GPT-2: batches are padded with EOS and always carry an attention
    # mask, and a model config that called EOS "padding" would make transformers warn on every document
    # that starts with <|endoftext|>.
    config = GPT2Config(vocab_size=len(tok), bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id,
                        pad_token_id=None, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **MODEL_SHAPE)
    model = GPT2LMHeadModel(config).to(device)
    model.loss_type = "ForCausalLM"
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98))
    sched = get_cosine_with_min_lr_schedule_with_warmup(opt, num_warmup_steps=max(1, steps // 50),
                                                        num_training_steps=steps, min_lr_rate=0.1)
    gen = torch.Generator().manual_seed(seed)
    block = MODEL_SHAPE["n_positions"]
    blocks, cursor, epochs = packed_blocks(texts, tok, block, gen), 0, 0
    tokens_per_epoch = blocks.numel()
    amp = device.type == "cuda"
    model.train()
    history, t0 = [], time.time()
    for step in tqdm(range(steps), desc=f"pre-train {corpus}", mininterval=5):
        if cursor + batch_size > len(blocks):
            blocks, cursor, epochs = packed_blocks(texts, tok, block, gen), 0, epochs + 1
        x = blocks[cursor: cursor + batch_size].to(device)
        cursor += batch_size
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = model(input_ids=x, labels=x).loss   # no padding, so no attention_mask: the fast causal path
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lr_used = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if step % log_every == 0 or step == steps - 1:
            history.append({"step": step, "loss": round(loss.item(), 4), "lr": lr_used})
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    info = {"corpus": corpus, "steps": steps, "batch_size": batch_size, "block": block, "lr": lr,
            "tokens_per_epoch": tokens_per_epoch, "epochs": round(steps * batch_size / len(blocks), 1),
            "parameters": sum(p.numel() for p in model.parameters()), "seconds": round(time.time() - t0),
            "device": str(device), "final_loss": history[-1]["loss"], "history": history}
    (out / "pretrain_info.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tools.pretrain", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="default: data/models")
    ap.add_argument("--only", choices=sorted(set(MODELS.values())), default=None, help="one corpus's model")
    ap.add_argument("--steps", type=int, default=2400)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0, help="initial weights and document order (shipped: 0)")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    hf_logging.set_verbosity_error()   # silences "pass an attention_mask": packed blocks hold no padding
    out = args.out or data_dir() / "models"
    tok_dir = out / "tokenizer"
    tok = train_tokenizer(data_dir(), tok_dir) if not (tok_dir / "tokenizer.json").exists() else \
        GPT2TokenizerFast.from_pretrained(tok_dir)
    from course_utils.evaluate import fact_probe_accuracy, load_probes
    for name, corpus in MODELS.items():
        if args.only and corpus != args.only:
            continue
        info = pretrain_model(corpus, tok, out / name, steps=args.steps, batch_size=args.batch_size,
                              lr=args.lr, seed=args.seed, device=args.device)
        model = GPT2LMHeadModel.from_pretrained(out / name)
        acc = fact_probe_accuracy(model, tok, load_probes())
        print(f"{name}: {info['parameters'] / 1e6:.2f}M parameters, {info['epochs']} epochs in "
              f"{info['seconds']} s on {info['device']}, final loss {info['final_loss']}, "
              f"fact-probe accuracy {acc['accuracy']:.1%}")


if __name__ == "__main__":
    main()
