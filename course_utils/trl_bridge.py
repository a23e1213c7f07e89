"""From the course's hand-written SFT to TRL's `SFTTrainer` (notebook 07).

The course trains on encoded (input_ids, response_mask) rows with its own loop (`train.train_sft`). TRL
trains on conversations (`messages` lists in Hugging Face's chat format), renders them with the
tokenizer's chat template, and with `assistant_only_loss=True` keeps as labels only the tokens the
template marks with `{% generation %}`. This module holds the plumbing notebook 07 needs to put the two
side by side with the same data, the same settings and the same weights:

  `row_to_messages`   a course SFT row as a conversation (a prompt/response pair is one turn);
  `sft_options`       each `TrainConfig` field as the `SFTConfig` option that does the same;
  `sft_config`        an `SFTConfig` that trains as `train_sft(config)` does;
  `make_trainer`      an `SFTTrainer` on the course's tokenizer and chat template, quiet and offline;
  `first_batch`       one batch exactly as TRL's dataloader builds it, and how many tokens it counts;
  `trl_loss`          TRL's training loss on a batch, through the trainer's own `compute_loss`.
"""
from __future__ import annotations

import torch

from .chat_template import with_chat_template
from .data import as_messages
from .encode import Layout
from .loss import IGNORE_INDEX
from .train import TrainConfig, autocast_dtype


def row_to_messages(row: dict) -> list[dict]:
    """A course SFT row as a conversation (`data.as_messages`): a prompt/response pair becomes one user
    turn and one assistant turn, whose tokens are those of `encode_example(tokenizer,
    format_prompt(prompt), response)`; a `support_chat` row is its `messages`."""
    return as_messages(row)


def _argument_name(new: str, old: str) -> str:
    """The name this transformers gives an option that transformers 5 renamed (4.x knows only `old`)."""
    import dataclasses

    from transformers import TrainingArguments

    return new if new in {f.name for f in dataclasses.fields(TrainingArguments)} else old


def checkpointing_option() -> str:
    """The gradient-checkpointing switch: `activation_checkpointing` in transformers 5 (which warns when
    the old `gradient_checkpointing`, TRL's default, is set), `gradient_checkpointing` in 4.x."""
    return _argument_name("activation_checkpointing", "gradient_checkpointing")


def sft_options(config: TrainConfig, device: torch.device | str = "cpu") -> dict:
    """The `SFTConfig` options that train as `train_sft(config)` does, one `TrainConfig` field at a time.

    transformers' schedule is the one `train_sft` uses, so the learning rates match step for step.
    Layout.SPLIT has no TRL counterpart: TRL pads each batch to its longest row (Layout.PADDED), which
    changes the speed, not the loss. TRL's loader shuffles with its own sampler, so the *order* of the
    examples differs from train_sft's for the same seed (`first_batch` shows TRL's)."""
    if config.max_steps is None:
        raise ValueError("sft_options() maps a run of a fixed number of steps: set TrainConfig.max_steps")
    device = torch.device(device)
    dtype = autocast_dtype(device, config.precision)
    warmup = config.warmup_steps if config.warmup_steps is not None else max(1, config.max_steps // 20)
    options = {
        "max_steps": config.max_steps,                                          # max_steps
        "per_device_train_batch_size": config.batch_size,                       # batch_size
        "gradient_accumulation_steps": config.grad_accum,                       # grad_accum
        "learning_rate": config.lr,                                             # lr
        "warmup_steps": warmup,                                                 # warmup_steps (None: 5%)
        "lr_scheduler_type": "cosine_with_min_lr",                              # min_lr_ratio
        "lr_scheduler_kwargs": {"min_lr_rate": config.min_lr_ratio},
        "weight_decay": config.weight_decay,                                    # weight_decay
        "max_grad_norm": config.max_grad_norm or 0.0,                           # max_grad_norm (0: no clipping)
        "bf16": dtype == torch.bfloat16, "fp16": dtype == torch.float16,        # precision
        "packing": config.layout is Layout.PACKED,                              # layout
        "logging_steps": config.log_every,                                      # log_every
        "eval_strategy": "steps" if config.eval_every else "no",                # eval_every
        "eval_steps": config.eval_every,
        "seed": config.seed, "data_seed": config.seed,                          # seed
        "torch_compile": config.compile_model,                                  # compile_model
    }
    sampling = _argument_name("train_sampling_strategy", "group_by_length")
    if config.layout is Layout.SORTED:                                          # layout (sorted) / shuffle
        options[sampling] = "group_by_length" if sampling == "train_sampling_strategy" else True
    elif not config.shuffle:
        if sampling != "train_sampling_strategy":
            raise ValueError("shuffle=False needs transformers 5 (train_sampling_strategy='sequential')")
        options[sampling] = "sequential"
    return options


def sft_config(output_dir, config: TrainConfig, device: torch.device | str = "cpu", **overrides):
    """An `SFTConfig` for `config` (`sft_options`), plus what the course always does: the model's own
    NLL on the labels, loss on assistant tokens only for conversations, no truncation (the course raises
    on an example that is too long instead of cutting it), no gradient checkpointing. Saving, progress
    bars, printing and reporting are off, so a notebook cell stays quiet; `overrides` win."""
    from trl import SFTConfig

    device = torch.device(device)
    settings = dict(
        output_dir=str(output_dir), **sft_options(config, device),
        loss_type="nll", assistant_only_loss=True, max_length=None, **{checkpointing_option(): False},
        use_cpu=device.type == "cpu", dataloader_pin_memory=device.type == "cuda",
        save_strategy="no", report_to="none", disable_tqdm=True,
    )
    settings.update(overrides)
    return SFTConfig(**settings)


def make_trainer(model, tokenizer, train_messages, config, eval_messages=None):
    """An `SFTTrainer` on a conversational dataset (rows with a `messages` column), with the course's
    chat template on a copy of the tokenizer (the shipped one is shared and never changed)."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTTrainer

    def as_dataset(rows):
        return rows if rows is None or hasattr(rows, "column_names") else Dataset.from_list(
            [{"messages": m} for m in rows])

    trainer = SFTTrainer(model=model, args=config, train_dataset=as_dataset(train_messages),
                         eval_dataset=as_dataset(eval_messages), processing_class=with_chat_template(tokenizer))
    # With progress bars off, transformers prints every log line (and a summary at the end of training)
    # with print(); the course reads the trainer's log_history instead.
    trainer.remove_callback(PrinterCallback)
    return trainer


def first_batch(trainer) -> tuple[dict, torch.Tensor]:
    """The first batch of TRL's own training dataloader (its sampler, its collator) on the trainer's
    device, and the number of tokens the trainer divides that batch's summed loss by."""
    batch = next(iter(trainer.get_train_dataloader()))
    device = trainer.args.device
    batch = {k: v.to(device) for k, v in batch.items()}
    _, n_items = trainer.get_batch_samples(iter([batch]), 1, device)
    return batch, n_items


def trl_loss(trainer, batch: dict, num_items_in_batch=None) -> torch.Tensor:
    """TRL's training loss on `batch`: the trainer's own `compute_loss`, as a training step calls it (the
    model's `loss` from `labels`: summed over the label tokens and divided by `num_items_in_batch`)."""
    return trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=num_items_in_batch)


def labels_to_mask(labels: torch.Tensor) -> torch.Tensor:
    """The course's response mask from Hugging Face labels: 1 where a token is a target, 0 at -100."""
    return (labels != IGNORE_INDEX).long()
