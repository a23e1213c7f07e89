"""Tokens as coloured text (course_utils.token_view): kinds, the text twin nbval compares, and bad input."""
import pytest

from course_utils.encode import collate, encode_example
from course_utils.token_view import as_html, as_text, classify, tokens_of


def test_kinds_follow_the_masks_and_the_eos(tokenizer):
    enc = encode_example(tokenizer, "Q: where?\nA:", " Veralon.")
    batch = collate([enc, encode_example(tokenizer, "Q: where was Ada Torwick born?\nA:", " In Veralon.")],
                    tokenizer.eos_token_id)
    kinds = classify(batch["input_ids"][0], batch["response_mask"][0], batch["attention_mask"][0],
                     tokenizer.eos_token_id)
    n_prompt = len(enc["input_ids"]) - sum(enc["response_mask"])
    assert kinds[:n_prompt] == ["prompt"] * n_prompt
    assert kinds[n_prompt: len(enc["input_ids"]) - 1] == ["response"] * (sum(enc["response_mask"]) - 1)
    assert kinds[len(enc["input_ids"]) - 1] == "eos"
    assert set(kinds[len(enc["input_ids"]):]) == {"pad"} and len(kinds) == batch["input_ids"].shape[1]
    # pad = EOS: a mask that zeroes every EOS id also zeroes the response's own EOS: it shows as EOS without loss
    no_eos_loss = [m if i != tokenizer.eos_token_id else 0 for i, m in zip(enc["input_ids"], enc["response_mask"])]
    assert classify(enc["input_ids"], no_eos_loss, None, tokenizer.eos_token_id)[-1] == "eos_no_loss"


def test_the_text_twin_brackets_loss_tokens_and_counts_padding(tokenizer):
    enc = encode_example(tokenizer, "Say hi:", " hi")
    ids, mask = enc["input_ids"] + [tokenizer.eos_token_id] * 3, enc["response_mask"] + [0] * 3
    text = as_text(tokens_of(tokenizer, ids, mask, [1] * len(enc["input_ids"]) + [0] * 3))
    n_prompt = len(enc["input_ids"]) - sum(enc["response_mask"])
    reply = "".join(f"[{tokenizer.decode([i]).replace(' ', '·')}]" for i in enc["input_ids"][n_prompt:-1])
    assert text == f"Say hi:{reply}[<|endoftext|>]{{pad ×3}}" and text.startswith("Say hi:[·")
    html = as_html(tokens_of(tokenizer, ids, mask, [1] * len(enc["input_ids"]) + [0] * 3))
    assert html.count("<span title=") == len(ids) and "padding (not attended)" in html and "&lt;|endoftext|&gt;" in html


def test_losses_are_shown_on_loss_tokens_only(tokenizer):
    enc = encode_example(tokenizer, "Say hi:", " hi")
    n = len(enc["input_ids"])
    shifted = [0.5] * (n - 1)                                  # one per predicted token, as a shifted loss gives
    tokens = tokens_of(tokenizer, enc["input_ids"], enc["response_mask"], losses=shifted)
    n_loss = sum(enc["response_mask"])
    assert [t.loss for t in tokens] == [None] * (n - n_loss) + [0.5] * n_loss
    assert as_text(tokens).count(":0.50]") == n_loss and as_text(tokens).endswith("[<|endoftext|>:0.50]")


@pytest.mark.parametrize("kwargs, message", [
    ({"response_mask": [1]}, "response_mask has 1 entries for"),
    ({"attention_mask": [1, 1]}, "attention_mask has 2 entries for"),
    ({"losses": [0.1]}, "losses has 1 entries for"),
])
def test_rows_of_the_wrong_length_are_refused_by_name(tokenizer, kwargs, message):
    ids = encode_example(tokenizer, "Say hi:", " hi")["input_ids"]
    with pytest.raises(ValueError, match=message):
        tokens_of(tokenizer, ids, **kwargs)


def test_a_batch_instead_of_a_row_is_refused(tokenizer):
    with pytest.raises(ValueError, match="one row of tokens, got a batch of 2 rows"):
        tokens_of(tokenizer, [[1, 2], [3, 4]])


def test_hints_come_one_step_at_a_time(capsys):
    from course_utils.checks import hint
    from course_utils.checks.common import HINTS, hints
    hints("demo_exercise", "look at the mask", "the shape: sum(mask) / len(ids)")
    try:
        hint("demo_exercise")
        hint("demo_exercise")
        hint("demo_exercise")
        hint("demo_exercise", 1)
        out = capsys.readouterr().out
        assert out.count("Hint 1 of 2 for demo_exercise") == 2 and out.count("Hint 2 of 2") == 2
        assert "look at the mask" in out and "(the last one)" in out
        with pytest.raises(ValueError, match="has hints 1 to 2, not 3"):
            hint("demo_exercise", 3)
        with pytest.raises(ValueError, match="no hints for 'nothing_here'"):
            hint("nothing_here")
    finally:
        HINTS.pop("demo_exercise")
