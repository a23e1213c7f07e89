"""Encoding prompt + response: the mask covers exactly the response and its EOS, at awkward seams."""
import pytest
import torch

from course_utils.encode import collate, encode_example, encode_text

AWKWARD = [
    ("Where was Ada born? ", "Veralon."),                  # prompt ends in a space
    ("Where was Ada born?\n", "Veralon."),                 # ... in a newline
    ("Where was Ada born?\n\n", "\nVeralon."),             # ... response starts with a newline
    ("Question:", " Veralon, of course."),                 # response starts with a space
    ("Rate it", "!!! Great."),                             # response starts with punctuation
    ("Say it in French:", " café crème, s'il vous plaît"),  # non-ASCII
    ("Emoji test ", "🙂 ok"),                               # a multi-byte character split across byte tokens
    ("", "An empty prompt."),                              # nothing to condition on
]


@pytest.mark.parametrize("prompt,response", AWKWARD)
@pytest.mark.parametrize("which", ["course", "gpt2"])
def test_masked_tokens_decode_to_response_plus_eos(prompt, response, which, tokenizer, gpt2_tokenizer):
    tok = tokenizer if which == "course" else gpt2_tokenizer
    enc = encode_example(tok, prompt, response)
    ids, mask = enc["input_ids"], enc["response_mask"]
    assert len(ids) == len(mask)
    masked = [i for i, m in zip(ids, mask) if m]
    assert tok.decode(masked) == response + tok.eos_token
    assert masked[-1] == tok.eos_token_id
    # The mask is one contiguous block at the end, and the first position never carries loss.
    first = mask.index(1)
    assert mask[first:] == [1] * (len(mask) - first) and first >= 1
    assert tok.decode(ids[:first]) == (prompt or tok.eos_token)


def test_joint_tokenisation_can_move_the_seam(gpt2_tokenizer):
    # Why encode_example tokenises the two parts separately: jointly, BPE glues the space to the word.
    prompt, response = "Answer: ", "Paris"
    joint = gpt2_tokenizer(prompt + response)["input_ids"]
    separate = gpt2_tokenizer(prompt)["input_ids"] + gpt2_tokenizer(response)["input_ids"]
    assert joint != separate


def test_empty_response_is_rejected(tokenizer):
    for bad in ["", "   ", "\n"]:
        with pytest.raises(ValueError, match="response is empty"):
            encode_example(tokenizer, "Where was Ada born?", bad)


def test_non_string_fields_are_rejected(tokenizer):
    with pytest.raises(TypeError, match="response must be a string"):
        encode_example(tokenizer, "Q?", None)
    with pytest.raises(TypeError, match="prompt must be a string"):
        encode_example(tokenizer, ["Q?"], "A.")


def test_too_long_example_names_the_lengths(tokenizer):
    with pytest.raises(ValueError, match=r"longer than max_length=8") as err:
        encode_example(tokenizer, "a fairly long prompt with many words in it", "and a response", max_length=8)
    assert "prompt" in str(err.value) and "response" in str(err.value)
    assert len(encode_example(tokenizer, "short", "ok", max_length=8)["input_ids"]) <= 8


def test_collate_pads_dynamically_and_masks_padding(tokenizer):
    examples = [encode_example(tokenizer, "Q?", "A."),
                encode_example(tokenizer, "A much longer question here?", "A much longer answer, too.")]
    b = collate(examples, tokenizer.eos_token_id)
    longest = max(len(e["input_ids"]) for e in examples)
    assert b["input_ids"].shape == (2, longest)          # the batch's longest, not a global maximum
    n0 = len(examples[0]["input_ids"])
    assert b["attention_mask"][0].tolist() == [1] * n0 + [0] * (longest - n0)
    assert b["response_mask"][0, n0:].sum() == 0
    assert b["input_ids"][0, :n0].tolist() == examples[0]["input_ids"]
    assert all(t.dtype == torch.long for t in b.values() if torch.is_tensor(t))
    assert b["position_ids"][0].tolist() == list(range(n0)) + list(range(longest - n0)), "padding counts on its own"


def test_collate_rejects_mismatched_mask_and_empty_batch(tokenizer):
    with pytest.raises(ValueError, match="example 0 of the batch"):
        collate([{"input_ids": [1, 2, 3], "response_mask": [0, 1]}], 0)
    with pytest.raises(ValueError, match="empty batch"):
        collate([], 0)


def test_pretraining_text_carries_loss_on_every_token(tokenizer):
    enc = encode_text(tokenizer, "Veralon is a city in Aldoria.")
    assert enc["input_ids"][0] == tokenizer.eos_token_id
    assert enc["response_mask"] == [0] + [1] * (len(enc["input_ids"]) - 1)
    assert tokenizer.decode(enc["input_ids"][1:]) == "Veralon is a city in Aldoria."
