"""Training part of a model: freezing all but the top blocks, or LoRA adapters beside frozen weights.

Both change which numbers SFT may move, the knob notebook 04 turns to trade the new task against what
pre-training stored; notebook 03 saves, reloads and merges a LoRA adapter.
"""
from __future__ import annotations

import contextlib
import warnings


def freeze_all_but_top(model, trainable_blocks: int) -> int:
    """Freeze embeddings and every transformer block except the top `trainable_blocks`; return the
    number of parameters left trainable. (GPT-2 ties the output layer to the token embeddings, so
    they stay frozen too.)"""
    n_layer = model.config.n_layer
    if not 0 < trainable_blocks <= n_layer:
        raise ValueError(f"trainable_blocks must be in 1..{n_layer}, got {trainable_blocks}")
    top = {f"transformer.h.{i}." for i in range(n_layer - trainable_blocks, n_layer)}
    for name, p in model.named_parameters():
        p.requires_grad = any(name.startswith(t) for t in top) or name.startswith("transformer.ln_f")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# Every weight matrix of a GPT-2 block: attention's c_attn (query, key, value) and c_proj, the MLP's c_fc and
# c_proj (the name matches both projections). Biderman et al. (2024) found LoRA on all of them does best.
LORA_TARGETS = ("c_attn", "c_proj", "c_fc")


@contextlib.contextmanager
def quiet_peft():
    """Silence the one warning peft triggers in transformers 5 through no option of ours: wrapping a model
    (`get_peft_model`, `PeftModel.from_pretrained`) asks it for `is_gradient_checkpointing`, which
    transformers 5 deprecates with a FutureWarning (peft 0.21 still asks). Anything else still warns."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def add_lora(model, rank: int, targets=LORA_TARGETS, trainable_token_indices: list[int] | None = None):
    """Wrap `model` (in place) with LoRA adapters of rank `rank` on `targets`; return the peft model and
    its trainable parameter count, r * (fan_in + fan_out) per adapted matrix.

    Each adapted weight W (frozen) gets W + (alpha / r) * B A, with A (r x fan_in) random and B
    (fan_out x r) zero, so training starts from the base model exactly. alpha = 2r keeps the scale
    alpha / r the same at every rank (as Biderman et al. 2024 did). GPT-2 stores these layers as
    Conv1D, whose weight is (fan_in, fan_out), the transpose of nn.Linear's: `fan_in_fan_out=True` tells
    peft so (without it peft warns and corrects it itself).

    `trainable_token_indices` (token ids, e.g. tokens just added to the vocabulary) also trains those
    rows of the input embeddings, through peft's trainable tokens (peft >= 0.15): every other row stays
    frozen, and where the output layer is tied to the embeddings (GPT-2) peft gives it the same trained
    rows, so a new token is learned both as an input and as a prediction."""
    from peft import LoraConfig, get_peft_model     # here, so the rest of the module runs without peft
    if trainable_token_indices is not None and (not trainable_token_indices or not all(
            isinstance(i, int) and 0 <= i < model.get_input_embeddings().num_embeddings for i in trainable_token_indices)):
        raise ValueError(f"trainable_token_indices={trainable_token_indices!r}: give ids of rows of the model's "
                         "embeddings (resize them first for added tokens)")
    tokens = {"trainable_token_indices": list(trainable_token_indices)} if trainable_token_indices else {}
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=list(targets),
                        fan_in_fan_out=True, **tokens)
    with quiet_peft():
        lora = get_peft_model(model, config)
    return lora, sum(p.numel() for p in lora.parameters() if p.requires_grad)
