"""From the course's hand-written SFT to TRL's `SFTTrainer` (notebook 07).

The course trains on encoded (input_ids, response_mask) rows with its own loop (`train.train_sft`). TRL
trains on conversations (`messages` lists in Hugging Face's chat format), renders them with the
tokenizer's chat template, and with `assistant_only_loss=True` keeps as labels only the tokens the
template marks with `{% generation %}`. This module holds the plumbing notebook 07 needs to put the two
side by side with the same data, the same settings and the same weights:

  `row_to_messages`   a course SFT row as a conversation (a prompt/response pair is one turn);
  `course_config`     an `SFTConfig` with the settings of `train_sft` (schedule, clipping, precision);
  `make_trainer`      an `SFTTrainer` on the course's tokenizer and chat template, quiet and offline;
  `first_batch`       one batch exactly as TRL's dataloader builds it, and how many tokens it counts;
  `trl_loss`          TRL's training loss on a batch, through the trainer's own `compute_loss`.
"""
from __future__ import annotations

import torch

from .chat_template import with_chat_template
from .data import as_messages
from .env import cpu_bf16_requested
from .loss import IGNORE_INDEX


def row_to_messages(row: dict) -> list[dict]:
    """A course SFT row as a conversation (`data.as_messages`): a prompt/response pair becomes one user
    turn and one assistant turn, whose tokens are those of `encode_example(tokenizer,
    format_prompt(prompt), response)`; a `support_chat` row is its `messages`."""
    return as_messages(row)


def checkpointing_option() -> str:
    """The name of the gradient-checkpointing switch in this transformers: 5.x calls it
    `activation_checkpointing` and warns when the old `gradient_checkpointing` is set (TRL sets it by
    default); 4.x knows only the old name."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def course_config(output_dir, *, max_steps: int, batch_size: int, lr: float, seed: int = 0,
                  warmup_steps: int = 0, min_lr_ratio: float = 0.1, max_grad_norm: float = 1.0,
                  device: torch.device | str = "cpu", **overrides):
    """An `SFTConfig` that trains as `train_sft(max_steps=..., batch_size=..., lr=...)` does.

    Each line sets an option where TRL's default differs from the course (notebook 07 prints both):
    cosine decay to `min_lr_ratio` of the peak, the formula of train_sft's schedule. Pass the same
    `warmup_steps` to both; only 0 gives the identical schedule, because transformers' warm-up starts
    at lr 0 on the first step (step / warmup) and train_sft's at peak / warmup ((step + 1) / warmup);
    no gradient checkpointing; bf16 only where train_sft would use it; no truncation (the course
    raises on an example that is too long instead of cutting it); assistant-only loss on chat data.
    Logging, saving, progress bars and reporting are off, so a notebook cell stays quiet."""
    from trl import SFTConfig

    device = torch.device(device)
    bf16 = (device.type == "cuda" and torch.cuda.is_bf16_supported()) or (device.type == "cpu" and cpu_bf16_requested())
    settings = dict(
        output_dir=str(output_dir), max_steps=max_steps, per_device_train_batch_size=batch_size,
        learning_rate=lr, lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": min_lr_ratio},
        warmup_steps=warmup_steps, weight_decay=0.0, max_grad_norm=max_grad_norm, seed=seed, data_seed=seed,
        loss_type="nll", assistant_only_loss=True, max_length=None, packing=False,
        **{checkpointing_option(): False}, bf16=bf16, fp16=device.type == "cuda" and not bf16,
        use_cpu=device.type == "cpu",
        # quiet: no files, no logging integrations, no progress bars
        save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
        dataloader_pin_memory=device.type == "cuda",
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
