"""LoRA (notebooks 03 and 04): the trainable count is the formula, training leaves the base weights alone,
and a saved adapter reloads, and merges, to the same function."""
import copy

import pytest
import torch
from transformers import GPT2LMHeadModel
from transformers.pytorch_utils import Conv1D

from course_utils.adapters import LORA_TARGETS, add_lora, quiet_peft
from course_utils.forgetting import Yardsticks, support_sft_run
from course_utils.models import save_model

peft = pytest.importorskip("peft")


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def with_nonzero_adapters(lora):
    """peft starts every B at zero (the adapter adds nothing); give B random values so the checks below
    compare a model that differs from its base."""
    torch.manual_seed(1)
    for name, p in lora.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.5)
    return lora


@pytest.mark.parametrize("rank", [1, 4, 16])
def test_trainable_count_is_r_times_fan_in_plus_fan_out_per_adapted_layer(tiny_model, rank):
    adapted = [m for n, m in tiny_model.named_modules() if isinstance(m, Conv1D) and n.split(".")[-1] in LORA_TARGETS]
    expected = sum(rank * (m.weight.shape[0] + m.weight.shape[1]) for m in adapted)
    assert len(adapted) == 4 * tiny_model.config.n_layer      # c_attn, attn.c_proj, c_fc, mlp.c_proj per block
    lora, trainable = add_lora(tiny_model, rank)
    d = tiny_model.config.n_embd    # per block: (d + 3d) + (d + d) + (d + 4d) + (4d + d) = 16d
    assert trainable == expected == rank * 16 * d * tiny_model.config.n_layer
    assert trainable == sum(p.numel() for p in lora.parameters() if p.requires_grad)
    assert all("lora_" in n for n, p in lora.named_parameters() if p.requires_grad)


def test_lora_on_gpt2_conv1d_layers_does_not_warn(tiny_model):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # peft warns when fan_in_fan_out does not match Conv1D
        add_lora(tiny_model, 4)


def test_support_run_with_lora_trains_the_adapters_and_leaves_the_base_weights_unchanged(base):
    model, tok = base
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    small = Yardsticks.build(n_probes=4, n_support=1)
    sticks = Yardsticks(small.probes, small.texts[:2], small.support)     # measuring is not what is tested
    run = support_sft_run(model, tok, sticks, lora_rank=4, max_steps=2, lr=2e-2)
    lora = run.extra["model"]
    assert run.extra["trainable"] == 4 * 16 * model.config.n_embd * model.config.n_layer
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters()), "the base model passed in changed"
    frozen = {n.replace("base_model.model.", "").replace(".base_layer", ""): p
              for n, p in lora.named_parameters() if "lora_" not in n}
    assert frozen.keys() == before.keys()
    changed = [n for n, p in frozen.items() if not torch.equal(p, before[n])]
    assert not changed, f"LoRA training changed base weights: {changed[:3]}"
    moved = [n for n, p in lora.named_parameters() if "lora_B" in n and p.abs().max() > 0]
    assert moved, "no adapter moved in 2 steps at lr 2e-2"


def test_adapter_save_load_round_trip_and_merge_give_the_same_logits(tiny_model, tokenizer, tmp_path):
    from peft import PeftModel
    base_copy = copy.deepcopy(tiny_model)
    lora = with_nonzero_adapters(add_lora(tiny_model, 4)[0]).eval()
    ids = torch.randint(0, tiny_model.config.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    trained = logits(lora, ids)
    assert not torch.allclose(trained, logits(base_copy, ids), atol=1e-3), "the adapters should change the logits"

    save_model(lora, tokenizer, tmp_path / "adapter")     # the course's save: adapter only, no hub lookup
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()
    with quiet_peft():      # peft asks transformers 5 for a deprecated property (adapters.quiet_peft)
        reloaded = PeftModel.from_pretrained(copy.deepcopy(base_copy), tmp_path / "adapter").eval()
    torch.testing.assert_close(logits(reloaded, ids), trained, rtol=0, atol=1e-6)

    merged = reloaded.merge_and_unload()
    assert type(merged) is GPT2LMHeadModel and not any("lora_" in n for n, _ in merged.named_parameters())
    assert sum(p.numel() for p in merged.parameters()) == sum(p.numel() for p in base_copy.parameters())
    torch.testing.assert_close(logits(merged, ids), trained, rtol=0, atol=1e-4)
