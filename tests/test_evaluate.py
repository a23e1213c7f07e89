"""Generation matches Hugging Face's greedy decoding; task scores use the task's scorer; measuring leaves the
model as it was."""
import pytest
import torch

from course_utils import evaluate
from course_utils.data import load_sft


def test_generate_matches_hf_greedy_with_left_padding(base):
    model, tok = base
    prompts = ["Veralon is a city in", "The employer of", "Standard shipping from Pebble & Pine takes"]
    ours = evaluate.generate(model, tok, prompts, max_new_tokens=8)
    for p, o in zip(prompts, ours):   # one prompt at a time: no padding involved in the reference
        ids = torch.tensor([tok(p)["input_ids"]])
        ref = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False,
                             pad_token_id=tok.eos_token_id)
        ref_ids = ref[0, ids.shape[1]:].tolist()
        if tok.eos_token_id in ref_ids:
            ref_ids = ref_ids[: ref_ids.index(tok.eos_token_id)]
        assert o == tok.decode(ref_ids), (p, o)


def test_generate_refuses_too_long_prompts(base):
    model, tok = base
    with pytest.raises(ValueError, match="exceeds the model's 320 positions"):
        evaluate.generate(model, tok, ["word " * 300], max_new_tokens=64)
    with pytest.raises(TypeError, match="list of prompts"):
        evaluate.generate(model, tok, "a string", max_new_tokens=4)


def test_probe_correct_checks_word_boundaries():
    assert evaluate.probe_correct(" Veralon. And more", " Veralon")
    assert not evaluate.probe_correct(" Veralonia", " Veralon")
    assert not evaluate.probe_correct(" Tessic", " Veralon")


def test_task_score_uses_the_right_scorer(base):
    model, tok = base
    rows = load_sft("qa", "validation").select(range(4))
    out = evaluate.task_score(model, tok, rows, max_new_tokens=16)
    assert out["n"] == 4 and len(out["replies"]) == 4 and 0.0 <= out["score"] <= 1.0
    with pytest.raises(ValueError, match="no scorer for task"):
        evaluate.task_score(model, tok, rows, task="poetry")


def test_sampling_is_seeded_leaves_global_rng_alone_and_restores_the_mode(base):
    model, tok = base
    prompts = ["Veralon is a city in"] * 6
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    model.train()
    try:
        a = evaluate.generate(model, tok, prompts, max_new_tokens=10, temperature=1.5, seed=7)
        assert model.training, "generate must hand the model back in train mode"
        after = torch.rand(1)
    finally:
        model.eval()
    assert torch.equal(before, after), "sampling must not consume the caller's random stream"
    assert a == evaluate.generate(model, tok, prompts, max_new_tokens=10, temperature=1.5, seed=7)
    assert len(set(a)) > 1, "six samples at temperature 1.5 should not all be the same"
    assert a != evaluate.generate(model, tok, prompts, max_new_tokens=10, temperature=1.5, seed=8)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        evaluate.generate(model, tok, prompts, temperature=0)
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        evaluate.generate(model, tok, prompts, max_new_tokens=0)


def test_measuring_helpers_switch_dropout_off_and_give_the_mode_back(tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    from course_utils.data_quality import response_losses
    from course_utils.encode import encode_example
    from course_utils.train import validation_loss
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                        resid_pdrop=0.3, embd_pdrop=0.3, attn_pdrop=0.3)     # heavy dropout: noisy in train mode
    model = GPT2LMHeadModel(config).train()
    texts = ["Veralon is a city in Aldoria.", "Standard shipping takes 3 to 5 business days."]
    encoded = [encode_example(tokenizer, "Q: where?\n", "In Aldoria.")] * 4
    measures = {
        "perplexity": lambda: evaluate.perplexity(model, tokenizer, texts),
        "validation_loss": lambda: validation_loss(model, encoded, tokenizer.eos_token_id),
        "response_losses": lambda: torch.cat(response_losses(model, encoded, tokenizer.eos_token_id)).tolist(),
        "generate": lambda: evaluate.generate(model, tokenizer, texts, max_new_tokens=5),
    }
    for name, measure in measures.items():
        first, second = measure(), measure()
        assert first == second, f"{name} gave different results on the same model: dropout was on"
        assert model.training, f"{name} did not give the model back in train mode"
    model.eval()
    evaluate.perplexity(model, tokenizer, texts)
    assert not model.training, "perplexity switched an eval-mode model to train mode"
