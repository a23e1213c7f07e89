"""SFT throughput: the course's loop (course_utils.train.train_sft), its levers switched off one at a time,
Hugging Face Trainer and TRL's SFTTrainer, on the same examples.

Every loop trains the same model (the same initial weights) on the same SFT examples with
the same effective batch, precision, learning rate, gradient clipping, sequence limit and loss (the
response tokens and the EOS after them, summed and divided by the step's response-token count). None uses
gradient checkpointing, evaluation, checkpointing or logging. Each loop runs in its own fresh Python
process (so peak memory is its own and no cache or compiled graph is shared): a few untimed warm-up
optimizer steps, then the timed steps. Reported per loop: real (non-padding) tokens per second, padding
share, seconds per optimizer step, examples per step, peak memory, mean training loss over the timed
steps, and on CUDA the model FLOPs utilisation (MFU); then the ratios course / Trainer and course / TRL.

The loops, each as it runs by default (what differs between them is the point of the comparison):
  course              train_sft with its default TrainConfig (layout="split"): random batches (a seeded
                      shuffle, so a batch mixes the tasks), each computed as length-homogeneous parts of one
                      optimizer step (each part padded to its own longest example), the language-model head
                      only at the positions that predict a response token (`loss.response_nll`), fused
                      AdamW, no host-device read-back of its own but one every `log_every` (10) steps.
  course-packed       the same batches laid end to end (layout="packed"): positions restart per example,
                      and transformers derives the mask that keeps the examples apart from them.
  course-padded       the same batches padded to their longest example (layout="padded").
  course-full-logits  the default batches, but `course_utils.train.response_nll` replaced (in that child
                      process only) by the textbook loss: the model's full logits at every position, then
                      the shifted, response-masked sum. The child checks that it gives the same loss as the
                      course's (to float rounding) before it trains.
  course-compile      the default, with compile_model=True (torch.compile of the loss function). Where
                      torch.compile fails (no C compiler, an unsupported backend) the error is recorded in
                      the results instead of a figure.
  trainer             transformers.Trainer's defaults: RandomSampler, DataCollatorForSeq2Seq padding each
                      batch to its longest example, labels -100 on prompt and padding, the model's own loss
                      over the full logits, its default optimizer (fused AdamW, as the course's), a NaN/inf
                      check of the loss per micro-batch (a host-device sync).
  trl-padded          trl.SFTTrainer on a prompt/completion dataset (prompt = data.format_prompt(prompt),
                      completion = response + EOS), so TRL tokenises it itself and masks the prompt
                      (completion_only_loss); the child checks that TRL's token ids and labels equal the
                      course's (`encode.encode_sft`) for every example. Its defaults: RandomSampler, padding
                      to the longest example of the batch, `loss_type="chunked_nll"` (the LM head only at
                      positions with a label, in checkpointed chunks of tokens), entropy and accuracy metrics
                      read back every step (syncs), and Trainer's NaN check.
  trl-packed          the same with packing=True and TRL's default packing_strategy="bfd": examples are
                      packed best-fit-decreasing into rows of at most --max-length tokens, and the batch is
                      flattened into one padding-free row with position_ids that restart per example and no
                      attention mask. TRL warns that only flash-attention kernels are known to keep packed
                      examples apart; with SDPA or eager attention (CPU) transformers derives a dense
                      block-diagonal causal mask from the restarting position_ids, so examples stay apart
                      (as in course-packed) but every pair of tokens in the row is still computed. A
                      trl-packed step holds --trl-rows packed rows (default: the course's tokens per step,
                      batch size x mean example length, in rows of --max-length), not --batch-size examples.

What is matched: the examples (the instruction mix of notebook 03, or one task; those longer than
--max-length are left out of every loop), the initial weights, the effective batch (--batch-size x
--grad-accum examples per optimizer step; for trl-packed the same number of tokens on average), the
precision (fp32 on CPU; bf16 autocast on CUDA where supported, else fp16), peak learning rate, a cosine
schedule with 5% warm-up (the course's decays to 10% of the peak, Trainer's to 0), weight decay 0,
gradient clipping at 1.0, dropout (the model's own), the attention kernel (the model's: SDPA), and the
number of warm-up and timed steps. The example order is each loop's own seeded random order: the course
variants see the same batches as one another (so their mean losses agree to float rounding), and so do
trainer and trl-padded; across the two families the batches and the schedules differ, and so do the mean
losses. Timing: the course's warm-up is one train_sft call and its timed steps a second one (whose few
milliseconds of set-up are inside the figure); Trainer and TRL run warm-up and timed steps in one train()
call, timed by a callback from the end of the last warm-up step to the end of the last timed step. Token
counts are those of the batches actually trained (the data loader prefetches one batch more).

    python benchmarks/sft_throughput.py                        # GPT-2 124M shape (random init), auto device
    python benchmarks/sft_throughput.py --model gpt2-tiny      # the course's embedded model
    python benchmarks/sft_throughput.py --device cpu --steps 4 --warmup 1    # a quick CPU run
    python benchmarks/sft_throughput.py --loops course,trl-packed --json out.json

No weights are downloaded: the 124M shape is GPT2Config's default (12 layers, 768 wide, 50,257 tokens,
1,024 positions) with random weights, fed the course's tokenised SFT data (ids < 4,096 fit its vocabulary).
MFU = model FLOPs per second / the GPU's peak dense bf16 (or fp16) FLOPs, with model FLOPs per real token
= 6 x parameters (position embeddings left out: a lookup, not a matmul) + 12 x layers x width x T (PaLM's
attention term, not halved for the causal mask), T averaged over the examples' tokens (sum T^2 / sum T).
Peaks come from a small table by device name (see PEAK_FLOPS), or from --peak-flops.
See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import subprocess
import sys
import time

# Run from a clone as well as from an installed course: course_utils sits beside benchmarks/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name -> how the loop runs. "kind" picks the runner; the rest are its switches.
LOOPS = {
    "course": {"kind": "course", "layout": "split"},
    "course-packed": {"kind": "course", "layout": "packed"},
    "course-padded": {"kind": "course", "layout": "padded"},
    "course-full-logits": {"kind": "course", "layout": "split", "full_logits": True},
    "course-compile": {"kind": "course", "layout": "split", "compile": True},
    "trainer": {"kind": "trainer"},
    "trl-padded": {"kind": "trl", "packing": False},
    "trl-packed": {"kind": "trl", "packing": True},
}
# A loop that may be unavailable on a machine: its failure is recorded, not fatal.
OPTIONAL_LOOPS = ("course-compile",)

# Peak dense bf16 (= fp16) tensor-core FLOP/s by device name, first match wins (NVIDIA's data sheets).
PEAK_FLOPS = (
    ("H200", 989e12), ("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H100", 989e12), ("H800", 989e12),
    ("A100", 312e12), ("A800", 312e12), ("L40S", 362e12), ("L4", 121e12), ("A10", 125e12),
    ("RTX 4090", 165e12), ("V100", 125e12), ("T4", 65e12),
)


def parse_args(argv=None):
    first, _, rest = __doc__.partition("\n\n")
    ap = argparse.ArgumentParser(description=first, epilog=rest,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["gpt2-124m", "gpt2-tiny"], default="gpt2-124m")
    ap.add_argument("--task", choices=["mix", "contracts", "support", "qa"], default="mix",
                    help="SFT data: the instruction mix of notebook 03 (default) or one task")
    ap.add_argument("--device", default=None, help="cuda, cpu, ... (default: COURSE_DEVICE or the best available)")
    ap.add_argument("--steps", type=int, default=None, help="timed optimizer steps (default 50 on CUDA, 4 on CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps (default 5 on CUDA, 1 on CPU)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--grad-accum", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=320, help="sequence limit: longer examples are left out of all "
                    "loops; also trl-packed's row length")
    ap.add_argument("--trl-rows", type=int, default=None, help="packed rows per micro-batch for trl-packed (default: "
                    "batch size x mean example length / max length, rounded: the course's tokens per step)")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--precision", choices=["auto", "bf16", "fp16", "fp32"], default="auto",
                    help="auto: bf16 on CUDA when supported (else fp16), fp32 on CPU")
    ap.add_argument("--loops", default=",".join(LOOPS), help=f"which loops to run, comma-separated "
                    f"(default: all of {', '.join(LOOPS)})")
    ap.add_argument("--peak-flops", type=float, default=None, help="the accelerator's peak FLOP/s for MFU "
                    "(default: from a table by CUDA device name; none on CPU)")
    ap.add_argument("--loop-timeout", type=float, default=1800, help="seconds one loop's process may take")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--child", choices=list(LOOPS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for name in args.loops.split(","):
        if name not in LOOPS:
            ap.error(f"--loops: unknown loop {name!r}; choose from {', '.join(LOOPS)}")
    for flag in ("steps", "warmup", "batch_size", "grad_accum", "max_length", "trl_rows"):
        value = getattr(args, flag)
        if value is not None and value < (0 if flag == "warmup" else 1):
            ap.error(f"--{flag.replace('_', '-')} must be positive, got {value}")
    return args


# ---------------------------------------------------------------------------------------------------
# Known library messages, silenced here only (narrowly: by logger and text), so stderr shows the rest
# ---------------------------------------------------------------------------------------------------
QUIET = {
    # TRL (1.13) warns whenever packing / padding-free runs without flash-attention. Under SDPA and eager,
    # transformers builds a block-diagonal causal mask from the restarting position_ids (checked in
    # quiet_check_packed_mask), so the examples do stay apart; the cost is the dense mask, which we measure.
    "trl.trainer.sft_trainer": ("Padding-free training is enabled, but the attention implementation",
                                "You are using packing, but the attention implementation"),
    # transformers 5 renamed an output field; TRL's chunked-loss output still fills the old name.
    "transformers.utils.generic": ("`past_key_values`/`cache_params` are deprecated",),
    # Padding-free rows carry no attention mask by design, and GPT-2's pad token is its EOS, which every
    # example ends with.
    "transformers.modeling_utils": ("We strongly recommend passing in an `attention_mask`",),
}


class _DropKnown(logging.Filter):
    def __init__(self, texts):
        super().__init__()
        self.texts = texts

    def filter(self, record):
        message = record.getMessage()
        return not any(text in message for text in self.texts)


def quiet_known_messages():
    for name, texts in QUIET.items():
        logging.getLogger(name).addFilter(_DropKnown(texts))


# ---------------------------------------------------------------------------------------------------
# One loop, in a child process
# ---------------------------------------------------------------------------------------------------
def build(args):
    """Model, tokenizer and encoded examples, the same for every loop."""
    import torch
    from datasets import concatenate_datasets
    from transformers import GPT2Config, GPT2LMHeadModel

    from course_utils import data, encode, models

    torch.manual_seed(0)
    model, tok = models.load_base("gpt2-tiny", device="cpu")
    if args.model == "gpt2-124m":
        model = GPT2LMHeadModel(GPT2Config(attn_implementation="sdpa"))
        model.loss_type = "ForCausalLM"
    tasks = ["qa", "support", "contracts"] if args.task == "mix" else [args.task]
    rows = concatenate_datasets([data.load_sft(t, "train").select_columns(["id", "task", "prompt", "response"])
                                 for t in tasks]).shuffle(seed=0)
    encoded = encode.encode_sft(rows, tok, max_length=10**9).filter(lambda r: r["length"] <= args.max_length)
    return model, tok, encoded


def resolve_precision(args, device):
    import torch
    if args.precision != "auto":
        return args.precision
    if device.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def peak_memory_mb(device) -> float:
    import torch
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # Linux: KiB -> MiB, whole process


def sync(device):
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def full_logits_nll(model, batch, per_token=False):
    """The textbook SFT loss on an `encode.collate` batch: logits at every position (the LM head and the
    log-softmax over the whole vocabulary everywhere), shifted, masked to the positions that predict a
    response token, summed. The same number as `course_utils.loss.response_nll`, at full-logits cost."""
    from course_utils.loss import sft_loss

    inputs = {"position_ids": batch["position_ids"]} if batch["packed"] else {}
    logits = model(input_ids=batch["input_ids"], use_cache=False, **inputs).logits
    # At a seam in a packed row the next example's first token is never a target (every encoded example
    # starts with a prompt token, mask 0), so the shifted sum counts each example's own targets only.
    return sft_loss(logits, batch["input_ids"], batch["response_mask"], normalize="sum")


def check_full_logits(model, tok, encoded, device) -> float:
    """The largest relative difference between full_logits_nll and the course's response_nll on a few
    batches (split, packed and padded), in float32 and eval mode; raises when they disagree."""
    import torch

    from course_utils import train
    from course_utils.encode import Layout, lay_out, to_device
    from course_utils.models import eval_mode

    examples = encoded.select(range(min(16, len(encoded)))).select_columns(["input_ids", "response_mask"]).to_list()
    worst = 0.0
    with torch.no_grad(), eval_mode(model):
        for layout in (Layout.SPLIT, Layout.PACKED, Layout.PADDED):
            for b in lay_out(examples, tok.eos_token_id, layout, train.PACKED_ROW_TOKENS):
                b = to_device(b, device)
                ours, full = train.response_nll(model, b), full_logits_nll(model, b)
                worst = max(worst, abs(float(full) - float(ours)) / max(abs(float(ours)), 1e-12))
    if worst > 1e-3:        # float rounding (TF32 matmuls on a GPU); a real difference is far larger
        raise AssertionError(f"the full-logits loss differs from response_nll by {worst:.2e} (relative)")
    return worst


def run_course(args, variant, model, tok, encoded, device, precision):
    import torch

    from course_utils import train

    config = train.TrainConfig(batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr,
                               precision={"bf16": "bf16", "fp16": "fp16", "fp32": "float32"}[precision],
                               layout=variant["layout"], compile_model=variant.get("compile", False), log_every=10)
    common = dict(pad_token_id=tok.eos_token_id, device=device, progress=False)
    # Plain rows, as Trainer's data loader reads its prepared dataset: converting the Arrow table (0.2-0.4 s
    # for the mix) would otherwise be inside train_sft's timed call.
    rows = encoded.select_columns(["input_ids", "response_mask"]).to_list()
    extra = {}
    calls = [0]
    if variant.get("full_logits"):
        extra["full_logits_max_rel_diff"] = check_full_logits(model, tok, encoded, device)
        original = train.response_nll

        def counted_full_logits_nll(model, batch):
            calls[0] += 1
            return full_logits_nll(model, batch)
        # train_sft looks response_nll up in its module's globals when it starts, so this takes effect.
        train.response_nll = counted_full_logits_nll
    from torch._dynamo.utils import counters
    try:
        if args.warmup:
            train.train_sft(model, rows, config, max_steps=args.warmup, seed=1, **common)
        graphs = counters["stats"]["unique_graphs"]
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        sync(device)
        t0 = time.perf_counter()
        h = train.train_sft(model, rows, config, max_steps=args.steps, seed=2, **common)
        sync(device)
        seconds = time.perf_counter() - t0
        if variant.get("compile"):      # graphs compiled during the timed steps (their time is in the figure)
            extra.update(compiled_graphs_warmup=graphs,
                         compiled_graphs_timed=counters["stats"]["unique_graphs"] - graphs)
    finally:
        if variant.get("full_logits"):
            train.response_nll = original
    if variant.get("full_logits") and not calls[0]:
        raise AssertionError("train_sft did not call the replaced response_nll")
    return {"seconds": seconds, "real_tokens": h.real_tokens, "padded_tokens": h.padded_tokens,
            "examples": h.examples_seen, "mean_loss": sum(h.train_loss) / len(h.train_loss), **extra}


def hf_harness(args, device):
    """What Trainer and SFTTrainer share here: a collator wrapper that records each batch's counts on the
    CPU side (in the order the batches are made, which is the order they train in, whatever the data
    loader prefetches), a callback that times the steps after the warm-up, and a training_step that sums
    the loss on the device (no sync) for the timed steps."""
    import torch
    from transformers import TrainerCallback

    batches = []        # (real tokens, padded tokens, examples), one per micro-batch made

    def counting(collate):
        def collator(features):
            batch = collate(features)
            real = sum(len(f["input_ids"]) for f in features)
            examples = sum(len(f["seq_lengths"]) if "seq_lengths" in f else 1 for f in features)
            batches.append((real, batch["input_ids"].numel(), examples))
            return batch
        return collator

    class Timer(TrainerCallback):
        t0 = t1 = None

        def __init__(self):
            self.trainer = None

        def start(self):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            sync(device)
            self.trainer.bench_loss.zero_()
            self.t0 = time.perf_counter()

        def on_train_begin(self, targs, state, control, **kw):
            if args.warmup == 0:
                self.start()

        def on_step_end(self, targs, state, control, **kw):
            if state.global_step == args.warmup and args.warmup:
                self.start()
            if state.global_step == args.warmup + args.steps:
                sync(device)
                self.t1 = time.perf_counter()

    class LossSum:
        """Mixin: add each micro-batch's loss (as Trainer accumulates it) to a device tensor."""
        bench_loss = None

        def training_step(self, *a, **kw):
            loss = super().training_step(*a, **kw)
            if self.bench_loss is None:
                self.bench_loss = torch.zeros((), device=loss.device)
            self.bench_loss += loss.detach().float()
            return loss

    def common_args(precision, output):
        return dict(output_dir=os.path.join(os.environ.get("TMPDIR", "/tmp"), output),
                    per_device_train_batch_size=args.batch_size, gradient_accumulation_steps=args.grad_accum,
                    max_steps=args.warmup + args.steps, learning_rate=args.lr, weight_decay=0.0, max_grad_norm=1.0,
                    lr_scheduler_type="cosine", warmup_steps=max(1, (args.warmup + args.steps) // 20),
                    bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=device.type == "cpu",
                    activation_checkpointing=False, save_strategy="no", eval_strategy="no", report_to="none",
                    disable_tqdm=True, logging_strategy="no", seed=2)

    def run(trainer, timer):
        timer.trainer = trainer
        trainer.bench_loss = torch.zeros((), device=trainer.args.device)
        trainer.add_callback(timer)
        trainer.data_collator = counting(trainer.data_collator)
        trainer.train()
        if timer.t0 is None or timer.t1 is None:
            raise RuntimeError("the timed steps did not run (the data ran out?)")
        micro = args.grad_accum
        timed = batches[args.warmup * micro: (args.warmup + args.steps) * micro]
        return {"seconds": timer.t1 - timer.t0, "real_tokens": sum(b[0] for b in timed),
                "padded_tokens": sum(b[1] for b in timed), "examples": sum(b[2] for b in timed),
                "mean_loss": float(trainer.bench_loss) / args.steps}

    return common_args, LossSum, Timer, run


def run_trainer(args, variant, model, tok, encoded, device, precision):
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from course_utils.loss import mask_to_labels

    common_args, LossSum, Timer, run = hf_harness(args, device)

    # The same examples as labels: prompt tokens and padding are -100, so Trainer's loss is the
    # response-masked loss the course loop computes.
    def to_labels(row):
        ids = torch.tensor(row["input_ids"])
        return {"labels": mask_to_labels(ids, torch.tensor(row["response_mask"])).tolist()}

    ds = encoded.map(to_labels).select_columns(["input_ids", "labels"])

    class BenchTrainer(LossSum, Trainer):
        pass

    trainer = BenchTrainer(model=model, args=TrainingArguments(**common_args(precision, "sft_throughput_trainer")),
                           train_dataset=ds, data_collator=DataCollatorForSeq2Seq(tok, padding=True,
                                                                                   label_pad_token_id=-100))
    return run(trainer, Timer())


def check_trl_tokens(trainer, encoded, packing) -> str:
    """TRL tokenised the prompt/completion rows itself: check it made the course's token ids and mask."""
    ds = trainer.train_dataset
    if not packing:
        if len(ds) != len(encoded):
            raise AssertionError(f"TRL kept {len(ds)} of the {len(encoded)} examples")
        for i, (ids, labels, ours, mask) in enumerate(zip(ds["input_ids"], ds["labels"], encoded["input_ids"],
                                                          encoded["response_mask"])):
            if ids != ours or labels != [x if m else -100 for x, m in zip(ours, mask)]:
                raise AssertionError(f"example {i}: TRL's input_ids/labels differ from encode.encode_sft's")
        return f"input_ids and labels equal encode.encode_sft's for all {len(ds)} examples"
    lengths = [n for row in ds["seq_lengths"] for n in row]
    labelled = sum(sum(x != -100 for x in row) for row in ds["labels"])
    ours = sum(sum(m[1:]) for m in encoded["response_mask"])       # the first token of an example never carries loss
    if sorted(lengths) != sorted(encoded["length"]) or labelled != ours:
        raise AssertionError(f"TRL's packed rows hold {len(lengths)} examples, {sum(lengths)} tokens, {labelled} "
                             f"labels; the course's {len(encoded)}, {sum(encoded['length'])}, {ours}")
    return (f"the {len(ds)} packed rows hold all {len(lengths)} examples whole ({sum(lengths)} tokens, "
            f"{labelled} labelled, as encode.encode_sft's)")


def check_packed_mask(model, device) -> float:
    """How far a padding-free row (two examples, restarting position_ids, no mask) is from the two examples
    run alone: 0 (to float rounding) when transformers keeps packed examples apart for this kernel."""
    import torch

    from course_utils.evaluate import eval_mode

    torch.manual_seed(0)
    a, b = torch.randint(1, 4000, (1, 7), device=device), torch.randint(1, 4000, (1, 5), device=device)
    with torch.no_grad(), eval_mode(model):
        pos = torch.cat([torch.arange(7), torch.arange(5)])[None].to(device)
        packed = model(input_ids=torch.cat([a, b], 1), position_ids=pos, use_cache=False).logits
        alone = torch.cat([model(input_ids=x, use_cache=False).logits for x in (a, b)], 1)
    return float((packed - alone).abs().max() / alone.abs().max())


def run_trl(args, variant, model, tok, encoded, device, precision):
    from trl import SFTConfig, SFTTrainer

    from course_utils.data import format_prompt

    common_args, LossSum, Timer, run = hf_harness(args, device)
    packing = variant["packing"]
    extra = {}
    config = common_args(precision, "sft_throughput_" + ("trl_packed" if packing else "trl_padded"))
    if packing:
        # A step of the course holds batch_size examples, ~batch_size x mean length tokens; TRL's packed
        # batch counts rows of max_length tokens, so ask for as many rows as hold that many tokens.
        mean_length = sum(encoded["length"]) / len(encoded)
        rows = args.trl_rows or max(1, round(args.batch_size * mean_length / args.max_length))
        config["per_device_train_batch_size"] = rows
        extra["trl_rows_per_micro_batch"] = rows
        extra["packed_mask_max_rel_diff"] = check_packed_mask(model, device)
        if extra["packed_mask_max_rel_diff"] > 1e-2:       # attention across examples moves logits by far more
            raise AssertionError("transformers does not keep packed examples apart for this attention kernel "
                                 f"(relative difference {extra['packed_mask_max_rel_diff']:.2e})")
    pc = encoded.map(lambda r: {"prompt": format_prompt(r["prompt"]), "completion": r["response"] + tok.eos_token},
                     remove_columns=encoded.column_names)
    targs = SFTConfig(**config, packing=packing, max_length=args.max_length, completion_only_loss=True)
    extra.update(trl_packing_strategy=targs.packing_strategy if packing else None, trl_loss_type=targs.loss_type)

    class BenchSFTTrainer(LossSum, SFTTrainer):
        pass

    trainer = BenchSFTTrainer(model=model, args=targs, train_dataset=pc, processing_class=tok)
    extra["trl_padding_free"] = trainer.padding_free
    extra["tokenization_check"] = check_trl_tokens(trainer, encoded, packing)
    return {**run(trainer, Timer()), **extra}


RUNNERS = {"course": run_course, "trainer": run_trainer, "trl": run_trl}


def versions() -> dict:
    import torch
    import transformers
    out = {"torch": torch.__version__, "transformers": transformers.__version__}
    try:
        import trl
        out["trl"] = trl.__version__
    except ImportError:
        out["trl"] = None
    return out


def peak_flops(args, device, precision):
    """(peak FLOP/s, where it came from) for MFU, or (None, why not)."""
    import torch
    if args.peak_flops:
        return args.peak_flops, "--peak-flops"
    if device.type != "cuda":
        return None, "no MFU on a CPU (give --peak-flops)"
    if precision not in ("bf16", "fp16"):
        return None, f"no table peak for {precision} (give --peak-flops)"
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_FLOPS:
        if key in name:
            return value, f"table: {key} dense {precision}"
    return None, f"{name!r} is not in the peak table (give --peak-flops)"


def child(args):
    import torch

    from course_utils.env import pick_device

    quiet_known_messages()
    device = pick_device(args.device)
    torch.set_float32_matmul_precision("high")
    model, tok, encoded = build(args)
    model.to(device)
    precision = resolve_precision(args, device)
    variant = LOOPS[args.child]
    cfg = model.config
    params = sum(p.numel() for p in model.parameters())
    lengths = encoded["length"]
    # Model FLOPs per real token (see the module docstring).
    flops_per_token = (6 * (params - cfg.n_positions * cfg.n_embd)
                       + 12 * cfg.n_layer * cfg.n_embd * sum(n * n for n in lengths) / sum(lengths))
    result = {"loop": args.child, "device": str(device), "precision": precision,
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "threads": torch.get_num_threads(), "steps": args.steps, "warmup": args.warmup,
              "batch_size": args.batch_size, "grad_accum": args.grad_accum, "max_length": args.max_length,
              "dataset_examples": len(encoded), "params": params, "attn": cfg._attn_implementation, **versions()}
    result.update(RUNNERS[variant["kind"]](args, variant, model, tok, encoded, device, precision))
    peak, peak_source = peak_flops(args, device, precision)
    tokens_per_s = result["real_tokens"] / result["seconds"]
    result.update(peak_memory_mb=peak_memory_mb(device), tokens_per_s=tokens_per_s,
                  padding_share=1 - result["real_tokens"] / max(1, result["padded_tokens"]),
                  step_seconds=result["seconds"] / args.steps, examples_per_step=result["examples"] / args.steps,
                  model_flops_per_token=flops_per_token, model_flops_per_s=flops_per_token * tokens_per_s,
                  peak_flops=peak, peak_flops_source=peak_source,
                  mfu=flops_per_token * tokens_per_s / peak if peak else None)
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------------
# The parent: run each loop in a fresh process, then compare
# ---------------------------------------------------------------------------------------------------
def run_child(args, loop, device):
    forwarded = ["--model", args.model, "--task", args.task, "--batch-size", str(args.batch_size),
                 "--grad-accum", str(args.grad_accum), "--max-length", str(args.max_length), "--lr", str(args.lr),
                 "--precision", args.precision, "--steps", str(args.steps), "--warmup", str(args.warmup),
                 "--device", str(device), "--child", loop]
    forwarded += ["--trl-rows", str(args.trl_rows)] if args.trl_rows else []
    forwarded += ["--peak-flops", str(args.peak_flops)] if args.peak_flops else []
    cmd = [sys.executable, os.path.abspath(__file__), *forwarded]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.loop_timeout)
    except subprocess.TimeoutExpired:
        return {"loop": loop, "error": f"timed out after {args.loop_timeout:.0f} s"}, ""
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        lines_ = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])
        # The exception's own line ("torch._inductor.exc.InductorError: ..."), not a footer printed after it.
        tail = next((ln for ln in reversed(lines_) if re.match(r"[\w.]+(Error|Exception|Interrupt)\b", ln)), lines_[-1])
        return {"loop": loop, "error": f"exit code {proc.returncode}: {tail[:500]}",
                "output_tail": (proc.stdout[-2000:] + proc.stderr[-4000:])}, proc.stderr
    result = json.loads(lines[-1][len("RESULT "):])
    result["process_seconds"] = wall
    return result, proc.stderr


def ratios(results: dict) -> dict:
    """Real-token throughput ratios: course over each reference loop, and over TRL's better one."""
    ok = {name: r for name, r in results.items() if "error" not in r}
    out = {}
    if "course" not in ok:
        return out
    course = ok["course"]["tokens_per_s"]
    for ref in ("trainer", "trl-padded", "trl-packed"):
        if ref in ok:
            out[f"course/{ref}"] = course / ok[ref]["tokens_per_s"]
    trl = [ok[n]["tokens_per_s"] for n in ("trl-padded", "trl-packed") if n in ok]
    if trl:
        out["course/trl-best"] = course / max(trl)
    for name, r in ok.items():
        if name.startswith("course-"):
            out[f"{name}/course"] = r["tokens_per_s"] / course
    return out


def print_table(args, results: dict, torch_version: str):
    ok = [r for r in results.values() if "error" not in r]
    if ok:
        first = ok[0]
        print(f"\nmodel {args.model} ({first['params'] / 1e6:.1f}M parameters, attention {first['attn']}), "
              f"task {args.task} ({first['dataset_examples']:,} examples), device {first['device_name']} "
              f"({first['threads']} threads), precision {first['precision']}, batch {args.batch_size} x accum "
              f"{args.grad_accum}, {args.steps} timed steps after {args.warmup} warm-up, torch {torch_version}, "
              f"transformers {first['transformers']}, trl {first['trl']}")
    course = results.get("course", {}).get("tokens_per_s")
    show_mfu = any(r.get("mfu") for r in ok)
    print(f"{'loop':<20}{'real tok/s':>12}{'vs course':>10}{'padding':>9}{'s/step':>9}{'ex/step':>9}"
          f"{'peak MiB':>10}{'mean loss':>11}" + (f"{'MFU':>8}" if show_mfu else ""))
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<20}  failed: {r['error'][:90]}")
            continue
        vs = f"{r['tokens_per_s'] / course:.2f}x" if course else "-"
        print(f"{name:<20}{r['tokens_per_s']:>12,.0f}{vs:>10}{r['padding_share']:>9.1%}{r['step_seconds']:>9.3f}"
              f"{r['examples_per_step']:>9.1f}{r['peak_memory_mb']:>10,.0f}{r['mean_loss']:>11.3f}"
              + (f"{r['mfu']:>8.1%}" if show_mfu and r.get("mfu") else ""))
    rs = ratios(results)
    for key in ("course/trainer", "course/trl-padded", "course/trl-packed", "course/trl-best"):
        if key in rs:
            print(f"{key} real-token throughput: {rs[key]:.2f}x")
    if ok and ok[0]["device"] == "cpu":
        print("(CPU: peak memory is each process's peak resident set size; GPU figures need --device cuda)")
    return rs


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child(args)
    import torch

    from course_utils.env import pick_device

    device = pick_device(args.device)
    on_gpu = device.type == "cuda"
    args.steps = args.steps or (50 if on_gpu else 4)
    args.warmup = args.warmup if args.warmup is not None else (5 if on_gpu else 1)
    started = time.perf_counter()
    results = {}
    for loop in args.loops.split(","):
        print(f"running {loop}: {args.model}, {args.steps} steps after {args.warmup} warm-up, {device} ...",
              flush=True)
        results[loop], stderr = run_child(args, loop, device)
        if stderr.strip() and "error" not in results[loop]:
            sys.stderr.write(f"[{loop}] " + stderr)          # a child's warnings stay visible
        if "error" in results[loop]:
            tail = "\n".join(results[loop].get("output_tail", "").splitlines()[-15:])
            sys.stderr.write(f"the {loop} loop failed: {results[loop]['error']}\n{tail}\n")
    rs = print_table(args, results, torch.__version__)
    print(f"all loops: {time.perf_counter() - started:.0f} s wall")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"command": " ".join(["python", "benchmarks/sft_throughput.py", *(argv or sys.argv[1:])]),
                       "results": list(results.values()), "ratios": rs}, f, indent=2)
            f.write("\n")
    failed = [n for n, r in results.items() if "error" in r and n not in OPTIONAL_LOOPS]
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)} (see above)")
    return results


if __name__ == "__main__":
    main()
