"""Generation matches Hugging Face's greedy decoding; scorers accept right replies and reject wrong ones."""
import pytest
import torch

from course_utils import evaluate, world
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


def test_qa_scorer():
    row = load_sft("qa", "validation")[0]
    assert evaluate.score_qa(row["response"], row)
    other = next(v for v in world.VALUES[row["attribute"]] if v != row["answer"])
    assert not evaluate.score_qa(row["response"].replace(row["answer"], other), row)
    assert not evaluate.score_qa(f"{row['response']} Or maybe {other}.", row)   # hedging is wrong


def test_support_scorer_and_undesirable_detector():
    rows = load_sft("support", "test")
    refund = next(r for r in rows if r["intent"] == "refund" and "not eligible" in r["response"])
    assert evaluate.score_support(refund["response"], refund)
    assert not evaluate.score_support(refund["response"].replace("not eligible", "is eligible"), refund)
    assert evaluate.undesirable_kinds(refund["response"], refund) == []
    tainted = load_sft("support_tainted", "train")
    for kind in world.TAINT_KINDS:
        bad = next(r for r in tainted if r["taint"] == kind)
        assert kind in evaluate.undesirable_kinds(bad["response"], bad), (kind, bad["response"])
    clean = [r for r in tainted if not r["taint"]][:500]
    assert not any(evaluate.undesirable_kinds(r["response"], r) for r in clean)


def test_contract_scorer_per_field():
    row = load_sft("contracts", "test")[0]
    summary = row["response"]
    assert evaluate.contract_fields(summary, row) == {"term": True, "liability_cap": True, "governing_law": True}
    wrong_term = summary.replace(f"{row['term_months']} months", "99 months")
    assert evaluate.contract_fields(wrong_term, row)["term"] is False
    assert evaluate.score_contract(summary, row) and not evaluate.score_contract(wrong_term, row)
    both_caps = summary + " Insurance must cover $7,777,777."
    assert evaluate.contract_fields(both_caps, row)["liability_cap"] is False
    other_law = next(j for j in world.JURISDICTIONS if j != row["governing_law"])
    assert evaluate.contract_fields(summary.replace(row["governing_law"], other_law), row)["governing_law"] is False


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


def test_explain_miss_names_what_is_wrong():
    from course_utils.evaluate import explain_miss
    qa = {"person": "Calla Kelard", "attribute": "birth_city", "answer": "Izmira"}
    assert "university" in explain_miss("qa", "Calla Kelard studied at Osterby College.", qa)
    assert explain_miss("qa", "Ada Torwick was born in Izmira.", qa) == "it names someone else"
    assert explain_miss("qa", "Calla Kelard was born in Tessic.", qa) == "the wrong birth city"
    support = {"required": ["linen shirt", "not shipped"], "forbidden": ["has shipped"]}
    assert explain_miss("support", "Your desk lamp has shipped.", support) == \
        "leaves out 'linen shirt', 'not shipped'; says 'has shipped'"
    with pytest.raises(ValueError, match="task 'poems'"):
        explain_miss("poems", "", {})


def test_shipping_claims_are_checked_against_the_policy():
    from course_utils.evaluate import shipping_claims
    claims = shipping_claims("Standard shipping takes 3 to 5 business days and express shipping takes 1 to 5 business days.")
    assert claims == {"standard": ("3 to 5 business days", True), "express": ("1 to 5 business days", False)}
    assert shipping_claims("We ship soon.") == {}
