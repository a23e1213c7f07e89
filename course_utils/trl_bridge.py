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
  `count_targets`     the token count a training step divides a batch's summed loss by;
  `trl_loss`          TRL's training loss on a batch, through the trainer's own `compute_loss`;
  `logged_losses`     the training loss a trainer logged, step by step;
  `without_dropout`   a model's dropout switched off (the one random draw two loops do not share);
  `prompt_completion` course rows in TRL's prompt-completion format, tokenised as `encode_example` does.
"""
from __future__ import annotations

import logging

import torch

from .chat_template import CHAT_TEMPLATE, with_chat_template
from .data import as_messages, format_prompt
from .encode import Layout
from .loss import IGNORE_INDEX
from .train import TrainConfig, autocast_dtype


def row_to_messages(row: dict) -> list[dict]:
    """A course SFT row as a conversation (`data.as_messages`): a prompt/response pair becomes one user
    turn and one assistant turn, whose tokens are those of `encode_example(tokenizer,
    format_prompt(prompt), response)`; a `support_chat` row is its `messages`."""
    return as_messages(row)


def checkpointing_option() -> str:
    """The gradient-checkpointing switch: `activation_checkpointing` in recent transformers (which warns
    when the old `gradient_checkpointing`, TRL's default, is set), `gradient_checkpointing` before."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def sft_options(config: TrainConfig, device: torch.device | str = "cpu") -> dict:
    """The `SFTConfig` options that train as `train_sft(config)` does, one `TrainConfig` field at a time.

    transformers' schedule is the one `train_sft` uses, so the learning rates match step for step.
    Layout.SPLIT has no TRL counterpart: TRL pads each batch to its longest row (Layout.PADDED), which
    changes the speed, not the loss. TRL's loader shuffles with its own sampler, so the *order* of the
    examples differs from train_sft's for the same seed (`first_batch` shows TRL's); with `shuffle=False`
    both take the data's own order (TRL's "sequential" sampler), the same batches step for step."""
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
    if config.layout is Layout.SORTED:                                          # layout (sorted)
        options["train_sampling_strategy"] = "group_by_length"
    elif not config.shuffle:                                                    # shuffle
        options["train_sampling_strategy"] = "sequential"
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


def make_trainer(model, tokenizer, train_messages, config, eval_messages=None, chat_template: str = CHAT_TEMPLATE):
    """An `SFTTrainer` on a conversational dataset (a list of `messages` lists, or a `datasets.Dataset` in
    any format TRL reads), with `chat_template` (the course's unless given) on a copy of the tokenizer
    (the shipped one is shared and never changed)."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTTrainer

    def as_dataset(rows):
        return rows if rows is None or hasattr(rows, "column_names") else Dataset.from_list(
            [{"messages": m} for m in rows])

    quiet_packing_warnings()
    trainer = SFTTrainer(model=model, args=config, train_dataset=as_dataset(train_messages),
                         eval_dataset=as_dataset(eval_messages),
                         processing_class=with_chat_template(tokenizer, chat_template))
    # With progress bars off, transformers prints every log line (and a summary at the end of training)
    # with print(); the course reads the trainer's log_history instead.
    trainer.remove_callback(PrinterCallback)
    return trainer


def first_batch(trainer) -> tuple[dict, torch.Tensor]:
    """The first batch of TRL's own training dataloader (its sampler, its collator) on the trainer's
    device, and the number of tokens the trainer divides that batch's summed loss by. (A padding-free
    batch of TRL 1.16 also carries plain ints for flash-attention; they stay as they are.)"""
    batch = next(iter(trainer.get_train_dataloader()))
    device = trainer.args.device
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    return batch, count_targets(trainer, batch)


def count_targets(trainer, batch: dict) -> torch.Tensor:
    """What a training step of `trainer` divides the summed loss of `batch` (one micro-batch making up the
    whole step) by: transformers' `num_items_in_batch`, the label tokens after the shift."""
    _, n_items = trainer.get_batch_samples(iter([batch]), 1, trainer.args.device)
    return n_items


def trl_loss(trainer, batch: dict, num_items_in_batch=None) -> torch.Tensor:
    """TRL's training loss on `batch`: the trainer's own `compute_loss`, as a training step calls it (the
    model's `loss` from `labels`: summed over the label tokens and divided by `num_items_in_batch`)."""
    return trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=num_items_in_batch)


def logged_losses(trainer) -> tuple[list[int], list[float]]:
    """(steps, losses): the training loss as the trainer logged it (`state.log_history`), each the mean
    over the steps since the previous log, as `RunResult.train_loss` is."""
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    return [entry["step"] for entry in logs], [entry["loss"] for entry in logs]


def without_dropout(model):
    """`model` with every dropout probability set to 0 (in place; returned for chaining). Dropout is the
    one random draw that two loops given the same examples in the same order do not share: GPT-2's
    attention kernels read the probability from these modules, so this switches it off in train mode too."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def dropout_rates(model) -> set[float]:
    """The distinct dropout probabilities in `model` (an empty set: the model has no dropout layer)."""
    return {module.p for module in model.modules() if isinstance(module, torch.nn.Dropout)}


def prompt_completion(rows, tokenizer):
    """Course rows (prompt, response) as TRL's prompt-completion dataset: the prompt in the course's
    instruction template (`data.format_prompt`), the completion the response and its EOS, the tokens
    `encode_example` makes. TRL tokenises prompt and completion separately and, with
    `completion_only_loss` (on by default for this format), takes the loss on the completion only."""
    from datasets import Dataset

    return Dataset.from_list([{"prompt": format_prompt(row["prompt"]), "completion": row["response"] + tokenizer.eos_token}
                              for row in rows])


# TRL warns whenever packing or padding-free batches meet an attention kernel other than flash-attention:
# it cannot tell whether the model keeps the packed examples apart. transformers 5 does, for any kernel:
# given restarting position_ids, no attention mask and no cache (TRL's compute_loss passes use_cache=False),
# it builds a block-diagonal causal mask (masking_utils.find_packed_sequence_indices). Notebook 07 checks
# it on TRL's own packed row: every example's loss inside the row equals its loss alone. So these two
# messages, and only these, are dropped from TRL's SFT trainer logger.
PACKING_WARNINGS = (
    "Padding-free training is enabled, but the attention implementation is not set to a supported Flash Attention",
    "You are using packing, but the attention implementation is not set to a supported Flash Attention",
)
TRL_SFT_LOGGER = "trl.trainer.sft_trainer"


class _DropPackingWarnings(logging.Filter):
    def __init__(self):
        super().__init__()
        self.dropped = 0          # how many messages it has kept from reaching the notebook

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(text in message for text in PACKING_WARNINGS):
            self.dropped += 1
            return False
        return True


def quiet_packing_warnings() -> None:
    """Drop TRL's two packing warnings (see PACKING_WARNINGS: every supported transformers keeps packed
    examples apart); every other message of that logger, and every other logger, is left as it is.
    Idempotent."""
    logger = logging.getLogger(TRL_SFT_LOGGER)
    if not any(isinstance(f, _DropPackingWarnings) for f in logger.filters):
        logger.addFilter(_DropPackingWarnings())


def dropped_packing_warnings() -> int:
    """How many of TRL's packing warnings `quiet_packing_warnings` has dropped in this process so far."""
    return sum(f.dropped for f in logging.getLogger(TRL_SFT_LOGGER).filters if isinstance(f, _DropPackingWarnings))


def labels_to_mask(labels: torch.Tensor) -> torch.Tensor:
    """The course's response mask from Hugging Face labels: 1 where a token is a target, 0 at -100."""
    return (labels != IGNORE_INDEX).long()
