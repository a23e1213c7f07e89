"""The SFT loop on CPU: it learns, accumulation equals a big batch, length grouping (an option) cuts padding,
the typed configuration refuses what it does not know and the experiment runners pass every field through."""
import random

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from course_utils.encode import collate, encode_example, length_grouped_batches
from course_utils.loss import response_nll, sft_loss
from course_utils.train import Precision, TrainConfig, autocast_dtype, planned_batches, train_sft, validation_loss


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
                        lr=3e-3, log_every=5, eval_data=data, progress=False, device="cpu", precision="float32")
    after = validation_loss(tiny_model, data, tokenizer.eos_token_id)
    assert after < 0.7 * before, (before, after)
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.evals[-1]["step"] == 40 and history.evals[-1]["val_loss"] == pytest.approx(after, rel=1e-4)
    assert history.steps == 40 and history.examples_seen == 40 * 8 and history.step == list(range(5, 41, 5))
    assert history.device == "cpu" and history.autocast == "off"


def gradients_at_first_step(model, data, **kw):
    """Run one optimizer step of train_sft and return the gradients the optimizer was handed."""
    seen = {}

    def grab(optimizer, args, kwargs):
        if not seen:
            seen.update({n: p.grad.detach().clone() for n, p in model.named_parameters()})
    handle = register_optimizer_step_pre_hook(grab)
    try:
        train_sft(model, data, max_steps=1, progress=False, device="cpu", precision="float32", **kw)
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
    with pytest.raises(ValueError, match="layout='by length'.*'split', 'packed', 'padded', 'sorted'"):
        train_sft(tiny_model, examples(tokenizer), pad_token_id=0, layout="by length", progress=False)
    with pytest.raises(TypeError, match="packing"):     # an unknown setting is an error, never ignored
        train_sft(tiny_model, examples(tokenizer), pad_token_id=0, packing=True, progress=False)
    with pytest.raises(ValueError, match="grad_accum=0"):
        train_sft(tiny_model, examples(tokenizer), pad_token_id=0, grad_accum=0, progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_amp_path_runs_on_cuda(tiny_model, tokenizer):
    data = examples(tokenizer, 16)
    history = train_sft(tiny_model, data, pad_token_id=tokenizer.eos_token_id, max_steps=20, batch_size=8,
                        lr=3e-3, device="cuda", progress=False)
    assert history.autocast in ("bfloat16", "float16")
    assert history.train_loss[-1] < history.train_loss[0]


def test_response_nll_gives_exactly_the_full_logits_loss_and_gradients(tiny_model, tokenizer):
    """The head only at the positions that predict a response token: the same loss and gradients as
    sft_loss on every position's logits."""
    batch = collate(examples(tokenizer, 6), tokenizer.eos_token_id)
    full = sft_loss(tiny_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                    batch["input_ids"], batch["response_mask"])
    full.backward()
    full_grads = [p.grad.clone() for p in tiny_model.parameters()]
    tiny_model.zero_grad()
    assert batch["loss_tokens"] < batch["input_ids"].numel() / 2, "most positions predict no response token"
    trimmed = response_nll(tiny_model, batch) / batch["loss_tokens"]
    trimmed.backward()
    assert torch.allclose(trimmed, full, atol=1e-6)
    for g, p in zip(full_grads, tiny_model.parameters()):
        assert torch.allclose(g, p.grad, atol=1e-6)
    per_token = response_nll(tiny_model, batch, per_token=True)
    assert per_token.shape == (batch["loss_tokens"],) and sum(batch["target_counts"]) == batch["loss_tokens"]
    empty = collate([dict(e, response_mask=[0] * len(e["response_mask"])) for e in examples(tokenizer, 2)],
                    tokenizer.eos_token_id)
    zero = response_nll(tiny_model, empty)
    assert zero.item() == 0.0 and zero.requires_grad, "no target: a zero that is part of the graph, never NaN"


def test_cpu_autocast_choice(monkeypatch):
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, Precision.FLOAT32) is None and autocast_dtype(cpu, "bf16") == torch.bfloat16
    monkeypatch.delenv("COURSE_CPU_BF16", raising=False)
    assert autocast_dtype(cpu, Precision.AUTO) is None, "float32 is the CPU default, on every CPU"
    monkeypatch.setenv("COURSE_CPU_BF16", "1")
    assert autocast_dtype(cpu, Precision.AUTO) == torch.bfloat16, "the switch turns the CPU bf16 path on"
    assert autocast_dtype(cpu, Precision.FLOAT32) is None, "an explicit float32 wins over the switch"
    monkeypatch.setenv("COURSE_CPU_BF16", "0")
    assert autocast_dtype(cpu, Precision.AUTO) is None
    monkeypatch.setenv("COURSE_CPU_BF16", "maybe")
    with pytest.raises(ValueError, match="COURSE_CPU_BF16='maybe'"):
        autocast_dtype(cpu, Precision.AUTO)
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        autocast_dtype(cpu, Precision.FP16)


def test_bf16_on_cpu_trains(tiny_model, tokenizer):
    data = examples(tokenizer, 16)
    history = train_sft(tiny_model, data, pad_token_id=tokenizer.eos_token_id, max_steps=30, batch_size=8,
                        lr=3e-3, log_every=5, device="cpu", precision="bf16", progress=False)
    assert history.autocast == "bfloat16"
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]


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
    """peft wraps the model, so the loss must find the transformer body under the wrapper (loss.response_nll)."""
    from peft import LoraConfig, get_peft_model
    lora = get_peft_model(tiny_model, LoraConfig(r=8, target_modules=["c_attn", "c_fc"], fan_in_fan_out=True,
                                                 lora_dropout=0.0))
    frozen = {n: p.detach().clone() for n, p in lora.named_parameters() if not p.requires_grad}
    data = examples(tokenizer, 16)
    before = validation_loss(lora, data, tokenizer.eos_token_id)
    train_sft(lora, data, pad_token_id=tokenizer.eos_token_id, max_steps=40, batch_size=8, lr=3e-2,
              progress=False, device="cpu", precision="float32")
    after = validation_loss(lora, data, tokenizer.eos_token_id)
    assert after < before - 0.2, f"LoRA training did not lower the loss: {before:.3f} -> {after:.3f}"
    changed = [n for n, p in lora.named_parameters() if not p.requires_grad and not torch.equal(p, frozen[n])]
    assert not changed, f"frozen base weights changed: {changed[:3]}"


EVERY_FIELD_SET = TrainConfig(max_steps=3, epochs=2.0, batch_size=5, grad_accum=2, lr=1e-4, warmup_steps=1,
                              min_lr_ratio=0.3, weight_decay=0.01, max_grad_norm=0.5, precision="float32",
                              layout="packed", log_every=1, eval_every=2, seed=11, shuffle=False,
                              compile_model=True)


def test_the_field_set_above_differs_from_every_default():
    import dataclasses
    default = TrainConfig()
    same = [f.name for f in dataclasses.fields(TrainConfig) if getattr(EVERY_FIELD_SET, f.name) == getattr(default, f.name)]
    assert not same, f"pick non-default values for {same}, or the runner tests below cannot see them dropped"


@pytest.mark.parametrize("runner", ["support", "qa"])
def test_experiment_runners_pass_every_training_field_through(base, monkeypatch, runner):
    """The runners fill in their own budget, then hand train_sft the whole config: given as a TrainConfig or
    as keywords, every field arrives (a runner that rebuilt the config from a few fields would drop the rest)."""
    import dataclasses

    from course_utils import forgetting, generalization
    model, tok = base
    seen = []

    class Stop(Exception):
        pass

    def fake_train(model, data, config, **kw):
        seen.append(config)
        raise Stop     # only the config is under test
    module = forgetting if runner == "support" else generalization
    monkeypatch.setattr(module, "train_sft", fake_train)
    as_keywords = {f.name: getattr(EVERY_FIELD_SET, f.name) for f in dataclasses.fields(TrainConfig)}

    def run(**call):
        if runner == "support":
            return forgetting.support_sft_run(model, tok, forgetting.Yardsticks([], [], []), **call)
        return generalization.qa_sft_run(model, tok, generalization.qa_subset(4), **call)
    for call in ({"config": EVERY_FIELD_SET}, as_keywords):
        with pytest.raises(Stop):
            run(**call)
    assert seen == [EVERY_FIELD_SET, EVERY_FIELD_SET]
    with pytest.raises(TypeError, match="steps"):     # not a field: an error, never silently dropped
        run(steps=5)


def test_a_run_trains_on_its_planned_batches_shuffled_per_epoch_or_in_order(tiny_model, tokenizer, monkeypatch):
    from course_utils import train
    data = examples(tokenizer, 10)
    lengths = [len(e["input_ids"]) for e in data]
    shuffled = planned_batches(lengths, TrainConfig(batch_size=4, seed=3), total_steps=6)
    assert [sorted(len(b) for b in shuffled[k: k + 3]) for k in (0, 3)] == [[2, 4, 4]] * 2
    epochs = [sorted(i for b in shuffled[k: k + 3] for i in b) for k in (0, 3)]
    assert epochs == [list(range(10))] * 2 and shuffled[:3] != shuffled[3:], "each epoch a new permutation"
    assert planned_batches(lengths, TrainConfig(batch_size=4, shuffle=False), 3) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    seen = []
    original = train.lay_out
    monkeypatch.setattr(train, "lay_out", lambda examples, *a, **k: seen.append(examples) or original(examples, *a, **k))
    train_sft(tiny_model, data, TrainConfig(batch_size=4, seed=3, max_steps=4), pad_token_id=0, progress=False)
    assert [[data.index(e) for e in batch] for batch in seen] == shuffled[:4]
    with pytest.raises(ValueError, match="shuffle=True"):
        TrainConfig(layout="sorted", shuffle=False)
