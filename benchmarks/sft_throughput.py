"""SFT throughput: the course's loop (course_utils.train.train_sft) against Hugging Face Trainer.

Both loops train the same model shape on the same SFT examples with the same effective batch, precision,
learning rate, gradient clipping and sequence limit. Each loop runs in its own fresh Python process (so
peak memory is its own and no cache or compiled graph is shared), first a few untimed warm-up steps, then
the timed steps. Reported per loop: real (non-padding) tokens per second, padding share, seconds per
optimizer step, peak memory; and the ratio course / Trainer.

What differs is only what each loop does by default:
- course loop: length-grouped batches with dynamic padding, bf16 autocast on CUDA, fused AdamW, one
  host-device sync per `log_every` steps, optional torch.compile (--compile);
- Trainer: its defaults (random batches padded to the longest in the batch by DataCollatorForSeq2Seq,
  bf16 when asked, its own logging and callbacks).

    python benchmarks/sft_throughput.py                        # GPT-2 124M shape (random init), auto device
    python benchmarks/sft_throughput.py --model gpt2-tiny      # the course's embedded model
    python benchmarks/sft_throughput.py --device cpu --steps 4 --warmup 1    # a quick CPU run

No weights are downloaded: the 124M shape is GPT2Config's default (12 layers, 768 wide, 50,257 tokens,
1,024 positions) with random weights, fed the course's tokenised SFT data (ids < 4,096 fit its vocabulary).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

LOOPS = ("course", "trainer")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["gpt2-124m", "gpt2-tiny"], default="gpt2-124m")
    ap.add_argument("--task", choices=["mix", "contracts", "support", "qa"], default="mix",
                    help="SFT data: the instruction mix of notebook 03 (default) or one task")
    ap.add_argument("--device", default=None, help="cuda, cpu, ... (default: COURSE_DEVICE or the best available)")
    ap.add_argument("--steps", type=int, default=None, help="timed optimizer steps (default 50 on CUDA, 4 on CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps (default 5 on CUDA, 1 on CPU)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--grad-accum", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=320, help="sequence limit: longer examples are left out of both")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--precision", choices=["auto", "bf16", "fp16", "fp32"], default="auto",
                    help="auto: bf16 on CUDA when supported (else fp16), fp32 on CPU")
    ap.add_argument("--compile", action="store_true", help="torch.compile the course loop's model")
    ap.add_argument("--loops", default="course,trainer", help="which loops to run, comma-separated")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--child", choices=LOOPS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for name in args.loops.split(","):
        if name not in LOOPS:
            ap.error(f"--loops: unknown loop {name!r}; choose from {', '.join(LOOPS)}")
    for flag in ("steps", "warmup", "batch_size", "grad_accum", "max_length"):
        value = getattr(args, flag)
        if value is not None and value < (0 if flag == "warmup" else 1):
            ap.error(f"--{flag.replace('_', '-')} must be positive, got {value}")
    return args


# ---------------------------------------------------------------------------------------------------
# One loop, in a child process
# ---------------------------------------------------------------------------------------------------
def build(args):
    """Model, tokenizer and encoded examples, the same for both loops."""
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


def run_course(args, model, tok, encoded, device, precision):
    from course_utils.train import train_sft

    amp = {"bf16": "bf16", "fp16": "fp16", "fp32": False}[precision]
    common = dict(pad_token_id=tok.eos_token_id, batch_size=args.batch_size, grad_accum=args.grad_accum,
                  lr=args.lr, device=device, amp=amp, compile=args.compile, progress=False, log_every=10)
    if args.warmup:
        train_sft(model, encoded, max_steps=args.warmup, seed=1, **common)
    import torch
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t0 = time.perf_counter()
    h = train_sft(model, encoded, max_steps=args.steps, seed=2, **common)
    sync(device)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "real_tokens": h["real_tokens"], "padded_tokens": h["padded_tokens"],
            "mean_loss": sum(h["train_loss"]) / len(h["train_loss"])}


def run_trainer(args, model, tok, encoded, device, precision):
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    from course_utils.loss import mask_to_labels

    hf_logging.set_verbosity_error()
    # The same examples as labels: prompt tokens and padding are -100, so Trainer's loss is the
    # response-masked loss the course loop computes.
    def to_labels(row):
        ids = torch.tensor(row["input_ids"])
        return {"labels": mask_to_labels(ids, torch.tensor(row["response_mask"])).tolist()}

    ds = encoded.map(to_labels).select_columns(["input_ids", "labels"])
    base = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
    counts = {"real": 0, "padded": 0}

    def collator(features):            # the default collator, counting what it pads
        batch = base(features)
        counts["real"] += int(batch["attention_mask"].sum())
        counts["padded"] += batch["input_ids"].numel()
        return batch

    def trainer_for(steps, seed):
        targs = TrainingArguments(
            output_dir=os.path.join(os.environ.get("TMPDIR", "/tmp"), "sft_throughput_trainer"),
            per_device_train_batch_size=args.batch_size, gradient_accumulation_steps=args.grad_accum,
            max_steps=steps, learning_rate=args.lr, weight_decay=0.0, max_grad_norm=1.0,
            lr_scheduler_type="cosine", warmup_steps=max(1, steps // 20),
            bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=device.type == "cpu",
            save_strategy="no", report_to="none", disable_tqdm=True, logging_strategy="no", seed=seed)
        return Trainer(model=model, args=targs, train_dataset=ds, data_collator=collator)

    if args.warmup:
        trainer_for(args.warmup, 1).train()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    counts.update(real=0, padded=0)
    trainer = trainer_for(args.steps, 2)
    sync(device)
    t0 = time.perf_counter()
    out = trainer.train()
    sync(device)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "real_tokens": counts["real"], "padded_tokens": counts["padded"],
            "mean_loss": out.training_loss}


def child(args):
    import torch

    from course_utils.env import pick_device

    device = pick_device(args.device)
    torch.set_float32_matmul_precision("high")
    model, tok, encoded = build(args)
    model.to(device)
    precision = resolve_precision(args, device)
    result = (run_course if args.child == "course" else run_trainer)(args, model, tok, encoded, device, precision)
    result.update(loop=args.child, device=str(device), precision=precision,
                  device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                  steps=args.steps, examples=len(encoded), params=sum(p.numel() for p in model.parameters()),
                  attn=model.config._attn_implementation, peak_memory_mb=peak_memory_mb(device),
                  tokens_per_s=result["real_tokens"] / result["seconds"],
                  padding_share=1 - result["real_tokens"] / max(1, result["padded_tokens"]),
                  step_seconds=result["seconds"] / args.steps)
    print("RESULT " + json.dumps(result))


# ---------------------------------------------------------------------------------------------------
# The parent: run each loop in a fresh process, then compare
# ---------------------------------------------------------------------------------------------------
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
    forwarded = ["--model", args.model, "--task", args.task, "--batch-size", str(args.batch_size),
                 "--grad-accum", str(args.grad_accum), "--max-length", str(args.max_length), "--lr", str(args.lr),
                 "--precision", args.precision] + (["--compile"] if args.compile else [])
    results = {}
    for loop in args.loops.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), *forwarded, "--child", loop,
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--device", str(device)]
        print(f"running {loop} loop: {args.model}, {args.steps} steps after {args.warmup} warm-up, {device} ...",
              flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(f"the {loop} loop failed (exit code {proc.returncode}); its output is above")
        results[loop] = json.loads(lines[-1][len("RESULT "):])

    first = next(iter(results.values()))
    print(f"\nmodel {args.model} ({first['params'] / 1e6:.1f}M parameters, attention {first['attn']}), "
          f"task {args.task} ({first['examples']:,} examples), device {first['device_name']}, "
          f"precision {first['precision']}, batch {args.batch_size} x accum {args.grad_accum}, "
          f"{args.steps} timed steps, torch {torch.__version__}")
    print(f"{'loop':<10}{'real tok/s':>12}{'padding':>10}{'s/step':>9}{'peak MiB':>10}{'mean loss':>11}")
    for name, r in results.items():
        print(f"{name:<10}{r['tokens_per_s']:>12,.0f}{r['padding_share']:>10.1%}{r['step_seconds']:>9.3f}"
              f"{r['peak_memory_mb']:>10,.0f}{r['mean_loss']:>11.3f}")
    if len(results) == 2:
        ratio = results["course"]["tokens_per_s"] / results["trainer"]["tokens_per_s"]
        print(f"course / Trainer real-token throughput: {ratio:.2f}x")
        results["ratio"] = ratio
    if not on_gpu:
        print("(CPU: peak memory is each process's peak resident set size; GPU figures need --device cuda)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
