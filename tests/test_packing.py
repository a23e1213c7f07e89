"""How a batch is computed: mixed batches stay mixed, packed / split / padded batches give the full-logits
loss and gradients, packing pads little, a training step never reads the device back, eval_fn runs in
eval mode."""
import collections
import random

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from course_utils.encode import (block_causal_mask, collate, collate_packed, collate_rows, encode_example,
                                 packed_positions)
from course_utils.loss import sft_loss
from test_train import gradients_at_first_step     # one helper for both files (tests/ is on the path)
from course_utils.train import (_to_device, length_grouped_batches, micro_batches, response_nll, train_sft,
                                validation_loss)

CPU = torch.device("cpu")


def _examples(tokenizer, n_short, n_long, seed=0):
    """Short QA-like examples (about 13 tokens) and long contract-like ones (about 105)."""
    rng = random.Random(seed)
    short = [encode_example(tokenizer, f"Where was person {i} born?\n", "In Veralon.") for i in range(n_short)]
    long = [encode_example(tokenizer, "Summarise this contract.\n" + " ".join(f"Clause {k}: the party pays {rng.randrange(1000)}."
                                                                         for k in range(6)) + "\n",
                           "A term of 24 months, capped at $1,000,000, under the laws of Aldoria.") for _ in range(n_long)]
    return short, long


def _full_logits_loss_and_grads(model, full):
    """The reference: sft_loss (summed) on the full logits of a padded batch."""
    model.zero_grad()
    loss = sft_loss(model(input_ids=full["input_ids"], attention_mask=full["attention_mask"]).logits,
                    full["input_ids"], full["response_mask"], normalize="sum")
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


def _loss_and_grads(model, parts):
    model.zero_grad()
    loss = sum(response_nll(model, _to_device(b, CPU)) for b in parts)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_every_layout_gives_the_full_logits_loss_and_gradients(tiny_model, tokenizer, implementation):
    model = tiny_model
    model.config._attn_implementation = implementation
    short, long = _examples(tokenizer, 5, 3)
    examples = [long[0], short[0], short[1], long[1], short[2], long[2], short[3], short[4]]   # 13 to 105 tokens
    pad = tokenizer.eos_token_id
    # The eager kernel of transformers 4.x also applies GPT-2's own causal buffer, so its rows must fit
    # the model's 128 positions (train_sft does the same).
    row = None if implementation == "sdpa" else 128
    layouts = {"packed, one row": (examples, [collate_packed(examples, pad, row)]),
               "packed, rows of 128": (examples, [collate_packed(examples, pad, max_tokens=128)]),
               # No padding at all: the last example's EOS is the row's last token.
               "packed, row exactly full": ([long[0], short[1]], [collate_packed([long[0], short[1]], pad, multiple_of=1)]),
               "split by length (default)": (examples, micro_batches(examples, pad, None)),
               "padded": (examples, micro_batches(examples, pad, False))}
    assert layouts["packed, rows of 128"][1][0]["input_ids"].shape[0] > 1
    full_row = layouts["packed, row exactly full"][1][0]
    assert full_row["segments"][0, -1] == 1 and full_row["predict_at"][-1] == full_row["input_ids"].numel() - 2
    for name, (batch_examples, parts) in layouts.items():
        reference, reference_grads = _full_logits_loss_and_grads(model, collate(batch_examples, pad))
        loss, grads = _loss_and_grads(model, parts)
        assert sum(b["loss_tokens"] for b in parts) == sum(sum(e["response_mask"][1:]) for e in batch_examples)
        assert torch.allclose(loss, reference, rtol=1e-5), (name, loss.item(), reference.item())
        for a, b in zip(reference_grads, grads):      # float rounding only: far below the gradients' scale
            assert (a - b).abs().max() <= 1e-5 * a.abs().max() + 1e-7, name
    model.config._attn_implementation = "sdpa"


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_packed_batches_under_cpu_bf16_autocast_and_the_validation_loss(tiny_model, tokenizer, implementation):
    model = tiny_model
    model.config._attn_implementation = implementation
    short, long = _examples(tokenizer, 5, 3)
    examples = short + long
    full = collate(examples, tokenizer.eos_token_id)
    with torch.no_grad():
        reference = sft_loss(model(input_ids=full["input_ids"], attention_mask=full["attention_mask"]).logits,
                             full["input_ids"], full["response_mask"]).item()
    packed = collate_packed(examples, tokenizer.eos_token_id, None if implementation == "sdpa" else 128)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = response_nll(model, _to_device(packed, CPU)) / packed["loss_tokens"]
    loss.backward()
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(reference, rel=1e-2)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    # The validation loss is the same token-weighted loss, in float32 on the CPU unless asked for bf16.
    assert validation_loss(model, examples, tokenizer.eos_token_id, batch_size=3) == pytest.approx(reference, rel=1e-5)
    assert validation_loss(model, examples, tokenizer.eos_token_id, amp="bf16") == pytest.approx(reference, rel=1e-2)
    model.config._attn_implementation = "sdpa"


def test_packed_rows_keep_examples_apart(tokenizer):
    short, long = _examples(tokenizer, 4, 2)
    examples = short + long
    b = collate_packed(examples, tokenizer.eos_token_id, max_tokens=128)
    attention, positions, segments = block_causal_mask(b["segments"])[:, 0], b["position_ids"], b["segments"]
    assert attention.shape[0] > 1 and b["packed"]
    seams = 0
    for r in range(attention.shape[0]):
        starts = [t for t in range(1, segments.shape[1]) if segments[r, t] != segments[r, t - 1] and segments[r, t] >= 0]
        seams += len(starts)
        for s in starts:
            assert positions[r, s] == 0, "positions restart at every example"
            assert not attention[r, s:, :s].any(), "a token attends to the previous example"
        assert attention[r].any(dim=1).all(), "an attention row is empty (NaN in SDPA)"
    assert seams >= 3, "expected rows holding several examples"
    # Every predicted token sits in the same example as the position that predicts it.
    flat = segments.flatten()
    assert (flat[b["predict_at"]] == flat[b["predict_at"] + 1]).all()
    assert (b["input_ids"].flatten()[b["predict_at"] + 1] == b["targets"]).all()
    assert b["real_tokens"] == sum(len(e["input_ids"]) for e in examples) == int((segments >= 0).sum())
    assert b["input_ids"].shape[1] % 64 == 0


def test_packing_pads_at_most_five_percent_on_a_short_long_mix():
    rng = random.Random(0)
    lengths = [rng.choice([24, 220]) + rng.randrange(-3, 4) for _ in range(4000)]
    computed = real = 0
    for batch in length_grouped_batches(lengths, 8, rng, group_by_length=False):
        computed += packed_positions([lengths[i] for i in batch])
        real += sum(lengths[i] for i in batch)
    assert 1 - real / computed <= 0.05, f"padding share {1 - real / computed:.1%}"
    # packed_positions counts what collate_packed builds.
    examples = [{"input_ids": [1] * n, "response_mask": [0] + [1] * (n - 1)} for n in lengths[:8]]
    assert collate_packed(examples, 0)["input_ids"].numel() == packed_positions(lengths[:8])


def test_default_batches_mix_tasks_and_weigh_them_by_response_tokens():
    # 50/50 short (24 tokens, 8 of them response, token id 1) and long (220 tokens, 40 response, id 2).
    short = {"input_ids": [0] * 16 + [1] * 8, "response_mask": [0] * 16 + [1] * 8}
    long = {"input_ids": [0] * 180 + [2] * 40, "response_mask": [0] * 180 + [1] * 40}
    examples = [short] * 500 + [long] * 500
    lengths = [len(e["input_ids"]) for e in examples]
    batches = length_grouped_batches(lengths, 8, random.Random(0), group_by_length=False)   # train_sft's default
    mixed = sum(any(i < 500 for i in b) and any(i >= 500 for i in b) for b in batches) / len(batches)
    assert mixed >= 0.8, f"only {mixed:.0%} of default batches hold both kinds"
    # Each response token weighs 1 / (the step's token count), whichever part of the step it lands in,
    # so over the run the short kind's weight is its share of the response tokens: 8 / 48, not half.
    weight_short = 0.0
    for b in batches:
        parts = micro_batches([examples[i] for i in b], 0, None)
        step_tokens = sum(p["loss_tokens"] for p in parts)
        weight_short += sum(int((p["targets"] == 1).sum()) for p in parts) / step_tokens
    assert abs(weight_short / len(batches) - 8 / 48) < 0.03, weight_short / len(batches)
    grouped = length_grouped_batches(lengths, 8, random.Random(0), group_by_length=True)
    assert sum(any(i < 500 for i in b) and any(i >= 500 for i in b) for b in grouped) / len(grouped) < 0.1, \
        "length grouping makes single-task batches (why it is off by default)"


def test_train_sft_gives_the_same_gradient_packed_split_or_padded(tiny_model, tokenizer):
    short, long = _examples(tokenizer, 6, 2)
    state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    grads = {}
    for packing in (None, True, False):
        tiny_model.load_state_dict(state)
        grads[packing] = gradients_at_first_step(tiny_model, short + long, pad_token_id=tokenizer.eos_token_id,
                                               batch_size=8, packing=packing)
    for name, g in grads[False].items():
        for packing in (None, True):
            assert (g - grads[packing][name]).abs().max() <= 1e-5 * g.abs().max() + 1e-7, (packing, name)


def test_packed_training_follows_the_padded_run(tiny_model, tokenizer):
    short, long = _examples(tokenizer, 32, 32)
    state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    runs = {}
    for packing in (True, False):
        tiny_model.load_state_dict(state)
        runs[packing] = train_sft(tiny_model, short + long, pad_token_id=tokenizer.eos_token_id, max_steps=30,
                                  batch_size=8, lr=3e-3, log_every=10, progress=False, device="cpu", amp=False,
                                  packing=packing)
    packed, padded = runs[True], runs[False]
    # Same batches, same gradients: the same curve up to float rounding, and it goes down.
    assert packed["train_loss"] == pytest.approx(padded["train_loss"], rel=1e-3)
    assert packed["train_loss"][-1] < 0.8 * packed["train_loss"][0]
    # One row per batch of 8 (13 or 105 tokens each), rounded up to a multiple of 64 tokens.
    assert packed["padded_tokens"] % 64 == 0 and packed["padding_share"] < 0.12, packed["padding_share"]
    assert padded["padding_share"] > 0.3
    assert packed["real_tokens"] == padded["real_tokens"] and packed["examples_seen"] == 240
    assert packed["response_tokens"] == padded["response_tokens"] > 0


def test_bad_packing_input_is_named(tiny_model, tokenizer):
    short, _ = _examples(tokenizer, 8, 0)
    pad = tokenizer.eos_token_id
    with pytest.raises(ValueError, match="group_by_length=True only applies to padded batches"):
        train_sft(tiny_model, short, pad_token_id=pad, max_steps=1, progress=False, packing=True, group_by_length=True)
    with pytest.raises(ValueError, match="example 0 has 200 tokens, more than the model's 128 positions"):
        train_sft(tiny_model, [{"input_ids": [1] * 200, "response_mask": [0] + [1] * 199}], pad_token_id=pad,
                  max_steps=1, progress=False)
    tiny_model.config._attn_implementation = "flash_attention_2"     # as if loaded with it; no forward runs
    try:
        with pytest.raises(ValueError, match="attn_implementation='flash_attention_2'.*packing=False"):
            train_sft(tiny_model, short, pad_token_id=pad, max_steps=1, progress=False, device="cpu", packing=True)
    finally:
        tiny_model.config._attn_implementation = "sdpa"
    with pytest.raises(ValueError, match="example 1 of the batch: input_ids has 3 tokens but response_mask has 2"):
        collate_rows([short[0], {"input_ids": [1, 2, 3], "response_mask": [0, 1]}], [[0, 1]], pad)


def test_eval_fn_runs_in_eval_mode_and_training_resumes(tiny_model, tokenizer):
    short, _ = _examples(tokenizer, 16, 0)
    seen = []      # ("eval", mode during eval_fn) and ("train", mode during each training forward)
    hook = tiny_model.transformer.register_forward_pre_hook(lambda m, a: seen.append(("train", m.training)))
    try:
        train_sft(tiny_model, short, pad_token_id=tokenizer.eos_token_id, max_steps=3, batch_size=4, progress=False,
                  device="cpu", eval_every=1, eval_fn=lambda m: seen.append(("eval", m.training)) or {})
    finally:
        hook.remove()
    assert [kind for kind, _ in seen] == ["train", "eval"] * 3     # one part per step: 4 short examples
    assert seen == [("train", True), ("eval", False)] * 3, "eval_fn in eval mode, then training in train mode"


_READ_BACKS = ("item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__")


@pytest.mark.parametrize("packing", [None, True, False])
def test_a_training_step_reads_nothing_back_from_the_device(tiny_model, tokenizer, monkeypatch, packing):
    """A CPU stand-in for "no host-device sync": count every call that turns a tensor into a Python value
    (on a GPU each one waits for the device). Five steps, logging only at the end: exactly one, the logged
    loss. (Syncs inside C++ kernels, such as boolean indexing on a GPU, do not show here; the CUDA test does.)"""
    short, long = _examples(tokenizer, 12, 4)
    calls = collections.Counter()

    def counting(name, original):
        def wrapper(self, *args, **kwargs):
            calls[name] += 1
            return original(self, *args, **kwargs)
        return wrapper
    for name in _READ_BACKS:
        monkeypatch.setattr(torch.Tensor, name, counting(name, getattr(torch.Tensor, name)))
    train_sft(tiny_model, short + long, pad_token_id=tokenizer.eos_token_id, max_steps=5, batch_size=8,
              log_every=100, progress=False, device="cpu", amp=False, packing=packing)
    assert dict(calls) == {"item": 1}, dict(calls)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_no_host_device_sync_in_a_cuda_training_step(tiny_model, tokenizer):
    """PyTorch raises on any synchronising CUDA call while the sync-debug mode is "error". It is switched on
    after the first step (allocations and one-time set-up may sync) and off after the last optimizer step,
    before the logged loss is read back."""
    short, long = _examples(tokenizer, 12, 4)
    steps = []

    def toggle(optimizer, args, kwargs):
        steps.append(optimizer)
        if len(steps) == 1:
            torch.cuda.set_sync_debug_mode("error")      # steps 2 to 4 run under it
        if len(steps) == 4:
            torch.cuda.set_sync_debug_mode("default")    # before the logged loss is read back
    for packing in (None, True, False):
        steps.clear()
        handle = register_optimizer_step_post_hook(toggle)
        try:
            train_sft(tiny_model, short + long, pad_token_id=tokenizer.eos_token_id, max_steps=4, batch_size=8,
                      log_every=100, progress=False, device="cuda", packing=packing)
        finally:
            handle.remove()
            torch.cuda.set_sync_debug_mode("default")
        assert len(steps) == 4
