"""A chat format with tokens of its own (notebook 07, section 7): the tokenizer copy, the resized and tied
embeddings, which setups train the new rows, the template's mask, and generation that stops at <|end|>."""
import copy

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from course_utils import chat_tokens as ct
from course_utils.adapters import add_lora
from course_utils.chat_template import END_OF_TURN, ROLE_TOKENS, template_assistant_mask, with_chat_tokens
from course_utils.evaluate import generate_until

NEW_TOKENS = [*ROLE_TOKENS.values(), END_OF_TURN]
TINY_RECIPE = dict(max_steps=3, batch_size=4, lr=1e-3)


@pytest.fixture(scope="module")
def qa_rows():
    return ct.qa_sets(dict(train=12, test=4))


def test_the_copy_has_the_new_tokens_and_the_shipped_tokenizer_does_not(base):
    _, tok = base
    size = len(tok)
    chat_tok = with_chat_tokens(tok)
    assert len(chat_tok) == size + len(NEW_TOKENS)
    assert chat_tok.convert_tokens_to_ids(NEW_TOKENS) == list(range(size, size + len(NEW_TOKENS)))
    assert len(tok) == size and not set(NEW_TOKENS) & set(tok.get_vocab())
    from course_utils.models import load_base
    assert not set(NEW_TOKENS) & set(load_base("gpt2-tiny", device="cpu")[1].get_vocab())
    # A special token is never split and never merges with the text beside it.
    end = chat_tok.convert_tokens_to_ids(END_OF_TURN)
    assert chat_tok("born.<|end|>Next", add_special_tokens=False)["input_ids"] == (
        chat_tok("born.", add_special_tokens=False)["input_ids"] + [end]
        + chat_tok("Next", add_special_tokens=False)["input_ids"])


def test_the_embeddings_grow_to_the_tokenizer_and_stay_tied(base):
    model, tok = copy.deepcopy(base[0]), base[1]
    old = model.get_input_embeddings().weight.detach().clone()
    model, chat_tok, new_ids = ct.add_chat_tokens(model, tok)
    wte, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert wte.shape[0] == head.shape[0] == len(chat_tok) == model.config.vocab_size
    assert head is wte, "GPT-2's output layer must stay tied to the input embeddings"
    assert torch.equal(wte[: old.shape[0]], old), "the old rows are kept as they were"
    # mean_resizing: each new row sits at the mean of the old rows (covariance scaled by 1e-9)
    assert torch.allclose(wte[new_ids], old.mean(0).expand(len(new_ids), -1), atol=1e-3)
    again = ct.add_chat_tokens(copy.deepcopy(base[0]), tok)[0]
    assert torch.equal(again.get_input_embeddings().weight, wte), "the new rows are drawn from a seeded stream"


def test_random_init_gives_distinct_rows_from_gpt2s_own_initialisation(base):
    model, tok = copy.deepcopy(base[0]), base[1]
    old = model.get_input_embeddings().weight.detach().clone()
    model, _, new_ids = ct.add_chat_tokens(model, tok, mean_resizing=False)
    wte = model.get_input_embeddings().weight.detach()
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert torch.equal(wte[: old.shape[0]], old)
    rows = wte[new_ids]
    # GPT-2's _init_weights: normal, mean 0, std initializer_range; four rows far apart, unlike the mean's
    assert abs(rows.std().item() - model.config.initializer_range) < 0.3 * model.config.initializer_range
    assert torch.cdist(rows, rows).fill_diagonal_(float("inf")).min() > 0.5 * rows.norm(dim=1).mean()
    again = ct.add_chat_tokens(copy.deepcopy(base[0]), tok, mean_resizing=False)[0]
    assert torch.equal(again.get_input_embeddings().weight, model.get_input_embeddings().weight)


def test_replies_are_scored_three_ways_and_say_which_token_stopped(base, qa_rows):
    model, chat_tok, _ = ct.add_chat_tokens(copy.deepcopy(base[0]), base[1])
    out = ct.chat_replies(model, chat_tok, qa_rows[1])
    assert set(out["stopped_by"]) == {"EOS", END_OF_TURN}
    assert [w is not None for w in out["stopped_with"]] == out["stopped"]
    assert sum(out["stopped_by"].values()) == pytest.approx(out["stop_share"])
    assert out["score"] <= out["value_score"]
    assert ct.first_sentence("Ana Rell studied law. law. 72 months") == "Ana Rell studied law."
    assert ct.first_sentence("no full stop here") == "no full stop here"


@pytest.mark.parametrize("setting, rows_move", [("chat tokens", True), ("LoRA, new rows untrained", False),
                                                (ct.RANDOM_INIT, False), ("LoRA + token rows", True)])
def test_which_setups_train_the_new_rows(base, qa_rows, setting, rows_move):
    model, tok = base
    tuned, chat_tok, info = ct.train_setting(setting, 0, qa_rows[0], model, tok, TINY_RECIPE, lora_lr=1e-3)
    if rows_move:
        assert info["input_row_change"] > 1e-4 and info["output_row_change"] > 1e-4
        # the tie holds through training: a new token's input row and output row are the same numbers
        ids = chat_tok.convert_tokens_to_ids(NEW_TOKENS)
        inputs, outputs = ct.new_rows(tuned, ids)
        assert torch.allclose(inputs, outputs, atol=1e-5)
    else:
        assert info["input_row_change"] == info["output_row_change"] == 0.0
    assert base[0].get_input_embeddings().weight.shape[0] == len(tok), "the base model is never changed"


def test_the_template_mask_covers_each_reply_and_its_end_and_nothing_read(base):
    chat_tok = with_chat_tokens(base[1])
    conversation = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Who is Ada?"},
                    {"role": "assistant", "content": "A sailor."}, {"role": "user", "content": "Where?"},
                    {"role": "assistant", "content": "In Veralon."}]
    ids, mask = template_assistant_mask(chat_tok, conversation)
    end = chat_tok.convert_tokens_to_ids(END_OF_TURN)
    learned = chat_tok.decode([t for t, m in zip(ids, mask) if m])
    assert learned == "A sailor.<|end|>In Veralon.<|end|>"
    read = chat_tok.decode([t for t, m in zip(ids, mask) if not m])
    assert read == "<|system|>Answer briefly.<|end|><|user|>Who is Ada?<|end|><|assistant|><|user|>Where?<|end|><|assistant|>"
    assert [m for t, m in zip(ids, mask) if t == end] == [0, 0, 1, 0, 1]
    masked_end = ct.encode_chat(chat_tok, [{"prompt": "Who is Ada?", "response": "A sailor."}], learn_end=False)[0]
    assert chat_tok.decode([t for t, m in zip(masked_end["input_ids"], masked_end["response_mask"]) if m]) == "A sailor."


def forced_end_model(tok, word: int, end: int, end_from: int) -> GPT2LMHeadModel:
    """A GPT-2 whose blocks add nothing, so each position predicts from its token and position embeddings
    alone: position embeddings point at `word` before position `end_from` and at `end` from there on
    (the final layer norm's large gain makes that token hold nearly all the probability)."""
    torch.manual_seed(0)
    d = 16
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=d, n_layer=1, n_head=2,
                                       bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id,
                                       resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)).eval()
    with torch.no_grad():
        for name, p in model.transformer.h.named_parameters():
            if "c_proj" in name:
                p.zero_()
        wte = model.transformer.wte.weight
        wte.mul_(0.01)
        wte[word], wte[end] = torch.eye(d)[0], torch.eye(d)[1]
        model.transformer.ln_f.weight.fill_(10.0)
        model.transformer.wpe.weight.copy_(torch.stack([10 * torch.eye(d)[0 if p < end_from else 1] for p in range(64)]))
    return model


def test_generation_stops_at_the_end_of_turn_token_and_says_so(base):
    chat_tok = with_chat_tokens(base[1])
    end = chat_tok.convert_tokens_to_ids(END_OF_TURN)
    word = chat_tok("cat", add_special_tokens=False)["input_ids"][0]
    prompt = "<|user|>Hi<|end|><|assistant|>"
    n_prompt = len(chat_tok(prompt)["input_ids"])
    k = 3        # positions n_prompt-1 .. n_prompt+k-2 write `word`, the next one writes <|end|>
    model = forced_end_model(chat_tok, word, end, end_from=n_prompt + k - 1)
    out = generate_until(model, chat_tok, [prompt, prompt], [end], max_new_tokens=10)
    assert out == {"texts": [chat_tok.decode([word] * k)] * 2, "stopped": [True, True], "stop_ids": [end, end]}
    short = generate_until(model, chat_tok, [prompt], [end], max_new_tokens=k)
    assert short == {"texts": [chat_tok.decode([word] * k)], "stopped": [False], "stop_ids": [None]}, \
        "no stop token within the limit"
    never = forced_end_model(chat_tok, word, end, end_from=64)
    assert generate_until(never, chat_tok, [prompt], [end], max_new_tokens=6)["stopped"] == [False]
    # sampling with a nucleus cut: the forced token holds nearly all the mass, so the same reply
    sampled = generate_until(model, chat_tok, [prompt], [end], max_new_tokens=10, temperature=0.7, top_p=0.9)
    assert sampled == {"texts": out["texts"][:1], "stopped": [True], "stop_ids": [end]}


def test_bad_input_is_named(base, qa_rows):
    model, tok = base
    with pytest.raises(ValueError, match="top_p"):
        generate_until(model, tok, ["Hi"], top_p=0.9)
    with pytest.raises(ValueError, match="top_p"):
        generate_until(model, tok, ["Hi"], temperature=1.0, top_p=1.5)
    with pytest.raises(ValueError, match="stop_token_ids"):
        generate_until(model, tok, ["Hi"], [len(tok) + 10])
    with pytest.raises(ValueError, match="trainable_token_indices"):
        add_lora(copy.deepcopy(model), 2, trainable_token_indices=[len(tok) + 3])
    with pytest.raises(ValueError, match="setting"):
        ct.train_setting("chat tokens, no end", 0, qa_rows[0], model, tok, TINY_RECIPE)
    with pytest.raises(ValueError, match="lora_lr"):
        ct.train_setting("LoRA + token rows", 0, qa_rows[0], model, tok, TINY_RECIPE)
    with pytest.raises(ValueError, match="template"):
        ct.chat_replies(model, tok, qa_rows[1], template="plain")
