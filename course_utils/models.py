"""Loading the base model, saving and reloading fine-tuned checkpoints.

The embedded default (`gpt2-tiny`) ships in data/models/ and loads without a network. `"gpt2"` (OpenAI
GPT-2 124M) is the scale-up: the same GPT2LMHeadModel class, downloaded from the Hugging Face hub
where it is reachable. Fine-tuned models are saved outside data/, which holds shipped files only.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

from transformers import AutoTokenizer, GPT2LMHeadModel
from transformers.utils import logging as hf_logging

from .chat_template import CHAT_TEMPLATE
from .env import data_dir, model_choice, pick_device

LOCAL_MODELS = ("gpt2-tiny", "gpt2-tiny-single", "gpt2-tiny-single-fullname")
DEFAULT_MODEL = "gpt2-tiny"


def default_model_name() -> str:
    """`$COURSE_MODEL` if set (e.g. `gpt2` on Colab), else the embedded gpt2-tiny."""
    return model_choice(DEFAULT_MODEL)


def load_base(name: str | None = None, device=None):
    """Return (model, tokenizer) in eval mode on `device` (see env.pick_device).

    `name`: "gpt2-tiny" (default, embedded), "gpt2-tiny-single" (its no-augmentation twin),
    "gpt2-tiny-single-fullname" (that twin with the full name in every sentence, notebook 05), or a hub id
    such as "gpt2" (needs the network, or a copy in the local Hugging Face cache).
    """
    name = name or default_model_name()
    device = pick_device(device)
    if name in LOCAL_MODELS:
        path = data_dir() / "models" / name
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{path} is missing; rebuild it with `python -m tools.pretrain` from a clone of the course")
        model, tok = _load(path, local_files_only=True)
    else:
        try:
            model, tok = _load(name, local_files_only=False)
        except OSError as e:
            raise RuntimeError(
                f"Could not load {name!r} from the Hugging Face hub ({type(e).__name__}). Loading hub models "
                f"needs the network (e.g. on Colab) or a cached copy; without one, use the embedded "
                f"default: load_base('gpt2-tiny').") from None
    if tok.pad_token is None:      # GPT-2 has no padding token; EOS does the job (padding never carries loss)
        tok.pad_token = tok.eos_token
    return model.to(device).eval(), tok


@contextlib.contextmanager
def _no_progress_bars():
    # transformers draws "Loading weights" / "Writing model shards" bars on stderr; for a 10 MB model
    # they are noise in a notebook.
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()


def _load(source, local_files_only: bool):
    with _no_progress_bars():
        tok = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
        model = GPT2LMHeadModel.from_pretrained(source, local_files_only=local_files_only)
    # GPT2LMHeadModel's class name does not tell transformers 5 which loss it computes, so the first
    # model(labels=...) call would log a warning; it is the ordinary causal-LM loss.
    model.loss_type = "ForCausalLM"
    # The shipped tokenizer carries the course's chat template (chat_template.jinja); OpenAI's GPT-2 has
    # none, so it gets the same one: every model trains on and replies through the same layout.
    if not getattr(tok, "chat_template", None):
        tok.chat_template = CHAT_TEMPLATE
    return model, tok


@contextlib.contextmanager
def eval_mode(model):
    """Measure with dropout off, then hand the model back in the mode it came in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def save_model(model, tokenizer, path: str | Path) -> Path:
    """Save a (fine-tuned) model and its tokenizer with save_pretrained (safetensors)."""
    path = Path(path).resolve()
    shipped = data_dir().resolve()
    if path == shipped or shipped in path.parents:
        raise ValueError(f"refusing to save into {path}: data/ holds the course's shipped files. "
                         f"Save fine-tuned models elsewhere, e.g. 'checkpoints/my-model'.")
    path.mkdir(parents=True, exist_ok=True)
    # A peft model saves its adapter only. The course never resizes the vocabulary, so peft need not check
    # the base model's config for added embeddings (a check that warns when the hub is offline).
    extra = {"save_embedding_layers": False} if hasattr(model, "peft_config") else {}
    with _no_progress_bars():
        model.save_pretrained(path, **extra)
        tokenizer.save_pretrained(path)
    return path


def load_model(path: str | Path, device=None):
    """Reload a checkpoint written by save_model; returns (model, tokenizer) in eval mode."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no saved model at {path} (config.json missing)")
    model, tok = _load(path, local_files_only=True)
    return model.to(pick_device(device)).eval(), tok
