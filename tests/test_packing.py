"""How a batch is computed: mixed batches stay mixed, packed / split / padded batches give the full-logits
loss and gradients, packed examples do not see each other, packing pads little, the course's step reads
nothing back from the device, eval_fn runs in eval mode."""
import collections
import random

import pytest
import torch

from course_utils.encode import (Layout, collate, encode_example, lay_out, length_grouped_batches, pack_rows,
                                 packed_positions)
from course_utils.loss import response_nll, sft_loss
from course_utils.train import train_sft, validation_loss
from test_train import gradients_at_first_step     # one helper for both files (tests/ is on the path)

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


def _packed(examples, pad, max_tokens=None, multiple_of=64):
    lengths = [len(e["input_ids"]) for e in examples]
    return collate(examples, pad, rows=pack_rows(lengths, max_tokens or sum(lengths)), multiple_of=multiple_of)


def _loss_and_grads(model, parts):
    model.zero_grad()
    loss = sum(response_nll(model, b) for b in parts)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_every_layout_gives_the_full_logits_loss_and_gradients(tiny_model, tokenizer, implementation):
    model = tiny_model
    model.config._attn_implementation = implementation
    short, long = _examples(tokenizer, 5, 3)
    examples = [long[0], short[0], short[1], long[1], short[2], long[2], short[3], short[4]]   # 13 to 105 tokens
    pad = tokenizer.eos_token_id
    layouts = {"packed, one row": (examples, [_packed(examples, pad)]),
               "packed, rows of 128": (examples, [_packed(examples, pad, max_tokens=128)]),
               # No padding at all: the last example's EOS is the row's last token.
               "packed, row exactly full": ([long[0], short[1]], [_packed([long[0], short[1]], pad, multiple_of=1)]),
               "split by length (default)": (examples, lay_out(examples, pad, Layout.SPLIT, 2048)),
               "padded": (examples, lay_out(examples, pad, Layout.PADDED, 2048))}
    assert layouts["packed, rows of 128"][1][0]["input_ids"].shape[0] > 1
    assert len(layouts["split by length (default)"][1]) > 1
    full_row = layouts["packed, row exactly full"][1][0]
    assert full_row["real_tokens"] == full_row["input_ids"].numel() and full_row["predict_at"][-1] == full_row["input_ids"].numel() - 2
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
    packed = _packed(examples, tokenizer.eos_token_id, None if implementation == "sdpa" else 128)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = response_nll(model, packed) / packed["loss_tokens"]
    loss.backward()
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(reference, rel=1e-2)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    # The validation loss is the same token-weighted loss, in float32 on the CPU unless asked for bf16.
    assert validation_loss(model, examples, tokenizer.eos_token_id, batch_size=3) == pytest.approx(reference, rel=1e-5)
    assert validation_loss(model, examples, tokenizer.eos_token_id, precision="bf16") == pytest.approx(reference, rel=1e-2)
    model.config._attn_implementation = "sdpa"


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_packed_examples_see_only_themselves(tiny_model, tokenizer, implementation):
    """In a packed row every example gets exactly the hidden states it gets alone: from the restarting
    position ids transformers builds a mask that keeps the examples apart (and the positions restart)."""
    model = tiny_model
    model.config._attn_implementation = implementation
    short, long = _examples(tokenizer, 4, 2)
    examples = short + long
    b = _packed(examples, tokenizer.eos_token_id, max_tokens=128)
    assert b["input_ids"].shape[0] > 1 and b["packed"] and b["input_ids"].shape[1] % 64 == 0
    with torch.no_grad():
        packed_hidden = model.transformer(input_ids=b["input_ids"], position_ids=b["position_ids"],
                                          use_cache=False).last_hidden_state
        seams = 0
        for r, row in enumerate(pack_rows([len(e["input_ids"]) for e in examples], 128)):
            start = 0
            for i in row:
                ids = torch.tensor([examples[i]["input_ids"]])
                alone = model.transformer(input_ids=ids, use_cache=False).last_hidden_state[0]
                torch.testing.assert_close(packed_hidden[r, start: start + ids.shape[1]], alone, rtol=1e-4, atol=1e-5)
                assert b["position_ids"][r, start] == 0, "positions restart at every example"
                seams += start > 0
                start += ids.shape[1]
    assert seams >= 3, "expected rows holding several examples"
    # Every predicted token is the next token of the same example as the position that predicts it.
    positions = b["position_ids"].flatten()
    assert (positions[b["predict_at"] + 1] == positions[b["predict_at"]] + 1).all()
    assert (b["input_ids"].flatten()[b["predict_at"] + 1] == b["targets"]).all()
    assert b["real_tokens"] == sum(len(e["input_ids"]) for e in examples) == int(b["attention_mask"].sum())
    model.config._attn_implementation = "sdpa"


def test_packing_pads_at_most_five_percent_on_a_short_long_mix():
    rng = random.Random(0)
    lengths = [rng.choice([24, 220]) + rng.randrange(-3, 4) for _ in range(4000)]
    computed = real = 0
    for batch in length_grouped_batches(lengths, 8, rng, group_by_length=False):
        computed += packed_positions([lengths[i] for i in batch])
        real += sum(lengths[i] for i in batch)
    assert 1 - real / computed <= 0.05, f"padding share {1 - real / computed:.1%}"
    # packed_positions counts what a packed batch holds.
    examples = [{"input_ids": [1] * n, "response_mask": [0] + [1] * (n - 1)} for n in lengths[:8]]
    assert _packed(examples, 0)["input_ids"].numel() == packed_positions(lengths[:8])


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
        parts = lay_out([examples[i] for i in b], 0, Layout.SPLIT, 2048)
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
    for layout in Layout:
        tiny_model.load_state_dict(state)
        grads[layout] = gradients_at_first_step(tiny_model, short + long, pad_token_id=tokenizer.eos_token_id,
                                              batch_size=8, layout=layout)
    for name, g in grads[Layout.PADDED].items():
        for layout in (Layout.SPLIT, Layout.PACKED):
            assert (g - grads[layout][name]).abs().max() <= 1e-5 * g.abs().max() + 1e-7, (layout, name)


def test_packed_training_follows_the_padded_run(tiny_model, tokenizer):
    short, long = _examples(tokenizer, 32, 32)
    state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    runs = {}
    for layout in (Layout.PACKED, Layout.PADDED):
        tiny_model.load_state_dict(state)
        runs[layout] = train_sft(tiny_model, short + long, pad_token_id=tokenizer.eos_token_id, max_steps=30,
                                 batch_size=8, lr=3e-3, log_every=10, progress=False, device="cpu",
                                 precision="float32", layout=layout)
    packed, padded = runs[Layout.PACKED], runs[Layout.PADDED]
    # Same batches, same gradients: the same curve up to float rounding, and it goes down.
    assert packed.train_loss == pytest.approx(padded.train_loss, rel=1e-3)
    assert packed.train_loss[-1] < 0.8 * packed.train_loss[0]
    # One row per batch of 8 (13 or 105 tokens each), rounded up to a multiple of 64 tokens.
    assert packed.padded_tokens % 64 == 0 and packed.padding_share < 0.12, packed.padding_share
    assert padded.padding_share > 0.3
    assert packed.real_tokens == padded.real_tokens and packed.examples_seen == 240
    assert packed.response_tokens == padded.response_tokens > 0


def test_bad_packing_input_is_named(tiny_model, tokenizer):
    short, _ = _examples(tokenizer, 8, 0)
    pad = tokenizer.eos_token_id
    with pytest.raises(ValueError, match="example 0 has 200 tokens, more than the model's 128 positions"):
        train_sft(tiny_model, [{"input_ids": [1] * 200, "response_mask": [0] + [1] * 199}], pad_token_id=pad,
                  max_steps=1, progress=False)
    with pytest.raises(ValueError, match="example 1 of the batch: input_ids has 3 tokens but response_mask has 2"):
        collate([short[0], {"input_ids": [1, 2, 3], "response_mask": [0, 1]}], pad, rows=[[0, 1]])


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


@pytest.mark.parametrize("layout", list(Layout))
def test_the_courses_training_step_reads_nothing_back_from_the_device(tiny_model, tokenizer, monkeypatch, layout):
    """A stand-in for "no host-device sync of its own": count every call in the course's code that turns a
    tensor into a Python value (on a GPU each one waits for the device). Five steps, logging only at the
    end: exactly one, the logged loss. (transformers reads one boolean back per forward when it builds the
    attention mask; that read is the library's and is not counted here.)"""
    import sys
    short, long = _examples(tokenizer, 12, 4)
    calls = collections.Counter()

    def counting(name, original):
        def wrapper(self, *args, **kwargs):
            if "course_utils" in sys._getframe(1).f_code.co_filename:
                calls[name] += 1
            return original(self, *args, **kwargs)
        return wrapper
    for name in _READ_BACKS:
        monkeypatch.setattr(torch.Tensor, name, counting(name, getattr(torch.Tensor, name)))
    train_sft(tiny_model, short + long, pad_token_id=tokenizer.eos_token_id, max_steps=5, batch_size=8,
              log_every=100, progress=False, device="cpu", precision="float32", layout=layout)
    assert dict(calls) == {"item": 1}, dict(calls)
