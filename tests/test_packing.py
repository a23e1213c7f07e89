"""Mixed batches stay mixed; packed batches give the padded loss with little padding; eval_fn runs in eval mode."""
import random

import pytest
import torch

from course_utils.encode import collate, collate_packed, encode_example, pack_rows
from course_utils.loss import count_loss_tokens, sft_loss
from course_utils.train import (_packed_mask_for, length_grouped_batches, predicted_positions, response_logits,
                                train_sft)


def _examples(tokenizer, n_short, n_long, seed=0):
    rng = random.Random(seed)
    short = [encode_example(tokenizer, f"Where was person {i} born?\n", "In Veralon.") for i in range(n_short)]
    long = [encode_example(tokenizer, "Summarise this contract.\n" + " ".join(f"Clause {k}: the party pays {rng.randrange(1000)}."
                                                                         for k in range(6)) + "\n",
                           "A term of 24 months, capped at $1,000,000, under the laws of Aldoria.") for _ in range(n_long)]
    return short, long


def _packed(model, examples, pad, capacity):
    b = collate_packed(examples, pad, capacity)
    b.pop("real_tokens")
    b["attention_mask"] = _packed_mask_for(model, b["attention_mask"])
    b["predict_at"] = predicted_positions(b["response_mask"])
    return b


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_packed_and_padded_batches_give_the_same_loss_and_gradients(tiny_model, tokenizer, implementation):
    model = tiny_model
    model.config._attn_implementation = implementation
    short, long = _examples(tokenizer, 5, 3)
    examples = [long[0], short[0], short[1], long[1], short[2], long[2], short[3], short[4]]
    results = []
    for batch in (collate(examples, tokenizer.eos_token_id), _packed(model, examples, tokenizer.eos_token_id, 128)):
        model.zero_grad()
        loss = sft_loss(*response_logits(model, batch), normalize="sum")
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    model.config._attn_implementation = "sdpa"
    (padded, g1), (packed, g2) = results
    assert torch.allclose(padded, packed, rtol=1e-5), (padded.item(), packed.item())
    for a, b in zip(g1, g2):       # float rounding only: differences far below the gradients' scale
        assert (a - b).abs().max() <= 1e-5 * a.abs().max() + 1e-7


def test_packed_rows_keep_examples_apart(tiny_model, tokenizer):
    short, long = _examples(tokenizer, 4, 2)
    b = collate_packed(short + long, tokenizer.eos_token_id, 128)
    attention, positions = b["attention_mask"][:, 0], b["position_ids"]
    for r in range(attention.shape[0]):
        seams = [s for s in range(1, positions.shape[1]) if positions[r, s] == 0 and positions[r, s - 1] != 0]
        assert seams, "expected several examples per row"
        for s in seams:
            assert not attention[r, s:, :s].any(), "a token attends to the previous example"
        assert attention[r].any(dim=1).all(), "an attention row is empty (NaN in SDPA)"
    assert b["real_tokens"] == sum(len(e["input_ids"]) for e in short + long)


def test_packing_wastes_at_most_five_percent_on_a_short_long_mix():
    rng = random.Random(0)
    lengths = [rng.choice([24, 220]) + rng.randrange(-3, 4) for _ in range(4000)]
    computed = real = 0
    for batch in length_grouped_batches(lengths, 8, rng, group_by_length=False):
        rows = pack_rows([lengths[i] for i in batch], 320)
        assert sorted(j for row in rows for j in row) == list(range(len(batch)))
        assert all(sum(lengths[batch[j]] for j in row) <= 320 for row in rows)
        longest = max(sum(lengths[batch[j]] for j in row) for row in rows)
        computed += len(rows) * -(-longest // 8) * 8
        real += sum(lengths[i] for i in batch)
    assert 1 - real / computed <= 0.05, f"padding share {1 - real / computed:.1%}"


def test_default_batches_mix_tasks_and_weigh_them_by_response_tokens():
    lengths = [24] * 500 + [220] * 500                      # 50/50 short and long
    response = [8] * 500 + [40] * 500                       # response tokens per example
    rng = random.Random(0)
    batches = length_grouped_batches(lengths, 8, rng, group_by_length=False)     # what train_sft uses by default
    mixed = sum(any(i < 500 for i in b) and any(i >= 500 for i in b) for b in batches) / len(batches)
    assert mixed >= 0.8, f"only {mixed:.0%} of default batches hold both kinds"
    # The token-mean loss weighs every response token of a step alike; summed over the run, the short
    # kind's weight is its share of the response tokens (1/6), not half.
    weight_short = sum(sum(response[i] for i in b if i < 500) / sum(response[i] for i in b) for b in batches) / len(batches)
    assert abs(weight_short - 8 / 48) < 0.03, weight_short
    grouped = length_grouped_batches(lengths, 8, random.Random(0), group_by_length=True)
    assert sum(any(i < 500 for i in b) and any(i >= 500 for i in b) for b in grouped) / len(grouped) < 0.1, \
        "length grouping makes single-task batches (why it is off by default)"


def test_train_sft_packs_mixed_batches_and_learns(tiny_model, tokenizer):
    short, long = _examples(tokenizer, 32, 32)
    history = train_sft(tiny_model, short + long, pad_token_id=tokenizer.eos_token_id, max_steps=4, batch_size=8,
                        progress=False, device="cpu", amp=False, packing=True)
    assert history["padding_share"] < 0.25 and history["response_tokens"] > 0
    with pytest.raises(ValueError, match="group_by_length=True only applies to padded batches"):
        train_sft(tiny_model, short, pad_token_id=0, max_steps=1, progress=False, packing=True, group_by_length=True)
    with pytest.raises(ValueError, match="example 0 has .* more than the model's"):
        train_sft(tiny_model, [{"input_ids": [1] * 200, "response_mask": [0] + [1] * 199}], pad_token_id=0,
                  max_steps=1, progress=False)


def test_eval_fn_runs_in_eval_mode_and_training_resumes(tiny_model, tokenizer):
    short, _ = _examples(tokenizer, 16, 0)
    modes = []
    train_sft(tiny_model, short, pad_token_id=tokenizer.eos_token_id, max_steps=2, batch_size=4, progress=False,
              device="cpu", eval_every=1, eval_fn=lambda m: modes.append(m.training) or {})
    assert modes == [False, False]
