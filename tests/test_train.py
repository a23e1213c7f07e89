"""The SFT loop on CPU: it learns, accumulation equals a big batch, length grouping (an option) cuts padding."""
import random

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from course_utils.encode import encode_example
from course_utils.encode import collate
from course_utils.loss import sft_loss
from course_utils.train import _autocast_dtype, length_grouped_batches, response_logits, train_sft, validation_loss


def examples(tok, n=8):
    rng = random.Random(0)
    out = []
    for i in range(n):
        words = " ".join(rng.choice(["red", "green", "blue", "tall", "small"]) for _ in range(rng.randrange(1, 12)))
        out.append(encode_example(tok, f"Repeat: {words}\n", words))
    return out


def test_loss_goes_down_on_a_tiny_run(tiny_model, tokenizer):
    data = examples(tokenizer, 16)
    before = validation_loss(tiny_model, data, tokenizer.eos_token_id)
    history = train_sft(tiny_model, data, pad_token_id=tokenizer.eos_token_id, max_steps=40, batch_size=8,
                        lr=3e-3, log_every=5, eval_data=data, progress=False, device="cpu", amp=False)
    after = validation_loss(tiny_model, data, tokenizer.eos_token_id)
    assert after < 0.7 * before, (before, after)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["eval"][-1]["step"] == 40 and history["eval"][-1]["val_loss"] == pytest.approx(after, rel=1e-4)
    assert history["steps"] == 40 and history["examples_seen"] == 40 * 8
    assert history["device"] == "cpu" and history["amp"] == "off"


def gradients_at_first_step(model, data, **kw):
    """Run one optimizer step of train_sft and return the gradients the optimizer was handed."""
    seen = {}

    def grab(optimizer, args, kwargs):
        if not seen:
            seen.update({n: p.grad.detach().clone() for n, p in model.named_parameters()})
    handle = register_optimizer_step_pre_hook(grab)
    try:
        train_sft(model, data, max_steps=1, progress=False, device="cpu", group_by_length=False, amp=False, **kw)
    finally:
        handle.remove()
    return seen


def test_gradient_accumulation_gives_the_same_gradient_as_one_big_batch(tiny_model, tokenizer):
    data = examples(tokenizer, 8)                     # unequal response lengths on purpose
    twin = type(tiny_model)(tiny_model.config)
    twin.load_state_dict(tiny_model.state_dict())
    pad = tokenizer.eos_token_id
    big = gradients_at_first_step(tiny_model, data, pad_token_id=pad, batch_size=8, grad_accum=1)
    accumulated = gradients_at_first_step(twin, data, pad_token_id=pad, batch_size=2, grad_accum=4)
    for name, g in big.items():
        scale = g.abs().max().clamp(min=1e-12)
        assert (g - accumulated[name]).abs().max() / scale < 1e-4, f"{name}: accumulated gradient differs"


def test_length_grouping_reduces_padding():
    rng = random.Random(0)
    lengths = [rng.randrange(5, 300) for _ in range(2000)]

    def waste(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)
    grouped = length_grouped_batches(lengths, 16, random.Random(1), True)
    plain = length_grouped_batches(lengths, 16, random.Random(1), False)
    assert sorted(i for b in grouped for i in b) == list(range(2000))    # every example exactly once
    assert waste(grouped) < 0.2 * waste(plain)


def test_bad_arguments_are_named(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="training data is empty"):
        train_sft(tiny_model, [], pad_token_id=0, max_steps=1, progress=False)
    with pytest.raises(ValueError, match="encode it first"):
        train_sft(tiny_model, [{"prompt": "Q", "response": "A"}], pad_token_id=0, max_steps=1, progress=False)
    with pytest.raises(ValueError, match="grad_accum=0"):
        train_sft(tiny_model, examples(tokenizer), pad_token_id=0, grad_accum=0, progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_amp_path_runs_on_cuda(tiny_model, tokenizer):
    data = examples(tokenizer, 16)
    history = train_sft(tiny_model, data, pad_token_id=tokenizer.eos_token_id, max_steps=20, batch_size=8,
                        lr=3e-3, device="cuda", progress=False)
    assert history["amp"] in ("bfloat16", "float16")
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_trimmed_logits_give_exactly_the_full_loss_and_gradients(tiny_model, tokenizer):
    batch = collate(examples(tokenizer, 6), tokenizer.eos_token_id)
    full = sft_loss(tiny_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                    batch["input_ids"], batch["response_mask"])
    full.backward()
    full_grads = [p.grad.clone() for p in tiny_model.parameters()]
    tiny_model.zero_grad()
    logits, ids, mask = response_logits(tiny_model, batch)
    assert logits.shape[1] < batch["input_ids"].shape[1], "prompt positions should have been skipped"
    trimmed = sft_loss(logits, ids, mask)
    trimmed.backward()
    assert torch.allclose(trimmed, full, atol=1e-6)
    for g, p in zip(full_grads, tiny_model.parameters()):
        assert torch.allclose(g, p.grad, atol=1e-6)
    empty = dict(batch, response_mask=torch.zeros_like(batch["response_mask"]))
    assert sft_loss(*response_logits(tiny_model, empty)).item() == 0.0


def test_cpu_autocast_choice(monkeypatch):
    cpu = torch.device("cpu")
    assert _autocast_dtype(cpu, False) is None and _autocast_dtype(cpu, "bf16") == torch.bfloat16
    monkeypatch.delenv("COURSE_CPU_BF16", raising=False)
    assert _autocast_dtype(cpu, None) is None, "float32 is the CPU default, on every CPU"
    monkeypatch.setenv("COURSE_CPU_BF16", "1")
    assert _autocast_dtype(cpu, None) == torch.bfloat16, "the switch turns the CPU bf16 path on"
    assert _autocast_dtype(cpu, False) is None, "an explicit amp=False wins over the switch"
    monkeypatch.setenv("COURSE_CPU_BF16", "0")
    assert _autocast_dtype(cpu, None) is None
    monkeypatch.setenv("COURSE_CPU_BF16", "maybe")
    with pytest.raises(ValueError, match="COURSE_CPU_BF16='maybe'"):
        _autocast_dtype(cpu, None)
    with pytest.raises(ValueError, match="on the CPU"):
        _autocast_dtype(cpu, "fp16")


def test_bf16_on_cpu_trains(tiny_model, tokenizer):
    data = examples(tokenizer, 16)
    history = train_sft(tiny_model, data, pad_token_id=tokenizer.eos_token_id, max_steps=30, batch_size=8,
                        lr=3e-3, log_every=5, device="cpu", amp="bf16", progress=False)
    assert history["amp"] == "bfloat16"
    assert history["train_loss"][-1] < 0.7 * history["train_loss"][0]


def test_fine_tuned_checkpoint_reloads_to_identical_outputs(tiny_model, tokenizer, tmp_path):
    from course_utils.evaluate import generate
    from course_utils.models import load_model, save_model
    train_sft(tiny_model, examples(tokenizer, 16), pad_token_id=tokenizer.eos_token_id, max_steps=10,
              batch_size=8, lr=3e-3, device="cpu", progress=False)
    again, tok2 = load_model(save_model(tiny_model, tokenizer, tmp_path / "ft"), device="cpu")
    batch = collate(examples(tokenizer, 4), tokenizer.eos_token_id)
    with torch.no_grad():
        a = tiny_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        b = again(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.equal(a, b)
    prompts = ["Repeat: red blue\n", "Repeat: tall\n"]
    assert generate(tiny_model, tokenizer, prompts, max_new_tokens=6) == generate(again, tok2, prompts, max_new_tokens=6)


# peft 0.21 itself reads a transformers attribute that transformers 5 deprecates; not the course's code.
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_a_lora_model_trains_through_the_loop_and_only_its_adapters_change(tiny_model, tokenizer):
    """peft wraps the model, so the loop must find the transformer body under the wrapper (train.transformer_body)."""
    from peft import LoraConfig, get_peft_model
    lora = get_peft_model(tiny_model, LoraConfig(r=8, target_modules=["c_attn", "c_fc"], fan_in_fan_out=True,
                                                 lora_dropout=0.0))
    frozen = {n: p.detach().clone() for n, p in lora.named_parameters() if not p.requires_grad}
    data = examples(tokenizer, 16)
    before = validation_loss(lora, data, tokenizer.eos_token_id)
    train_sft(lora, data, pad_token_id=tokenizer.eos_token_id, max_steps=40, batch_size=8, lr=3e-2,
              progress=False, device="cpu", amp=False)
    after = validation_loss(lora, data, tokenizer.eos_token_id)
    assert after < before - 0.2, f"LoRA training did not lower the loss: {before:.3f} -> {after:.3f}"
    changed = [n for n, p in lora.named_parameters() if not p.requires_grad and not torch.equal(p, frozen[n])]
    assert not changed, f"frozen base weights changed: {changed[:3]}"
