"""The response-masked MLE loss: equal to the library's losses, every normalisation, edge cases."""
import pytest
import torch
import torch.nn.functional as F

from course_utils.encode import collate, encode_example
from course_utils.loss import IGNORE_INDEX, count_loss_tokens, mask_to_labels, sft_loss

PAIRS = [("Where was Ada born?\n", "Ada was born in Veralon."),
         ("Summarize: a long contract text goes here, with many words in it.\n", "Short."),
         ("Q: ", " A response that starts with a space and runs on for quite a few more tokens than the others.")]


def batch(tokenizer):
    return collate([encode_example(tokenizer, p, r) for p, r in PAIRS], tokenizer.eos_token_id)


def random_inputs(B=3, T=7, V=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=g, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, V, (B, T), generator=g)
    mask = (torch.rand(B, T, generator=g) < 0.6).long()
    mask[:, 0] = 0
    return logits, ids, mask


def test_equals_cross_entropy_with_ignore_index():
    logits, ids, mask = random_inputs()
    labels = mask_to_labels(ids, mask)
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=IGNORE_INDEX)
    got = sft_loss(logits, ids, mask)
    assert torch.allclose(got, expected.float(), atol=1e-6), (got, expected)


def test_equals_the_models_own_loss(base):
    model, tok = base
    b = batch(tok)
    with torch.no_grad():
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        hf = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                   labels=mask_to_labels(b["input_ids"], b["response_mask"])).loss
    ours = sft_loss(logits, b["input_ids"], b["response_mask"])
    assert abs(ours.item() - hf.item()) <= 1e-5, (ours.item(), hf.item())


def test_labels_helper_marks_prompt_and_padding_ignored(tokenizer):
    b = batch(tokenizer)
    labels = mask_to_labels(b["input_ids"], b["response_mask"])
    assert torch.equal(labels == IGNORE_INDEX, b["response_mask"] == 0)
    assert torch.equal(labels[b["response_mask"] == 1], b["input_ids"][b["response_mask"] == 1])


def per_token_nll(logits, ids):
    return -torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None]).squeeze(-1)


def test_normalisations_by_hand():
    logits, ids, mask = random_inputs(B=4, T=9)
    nll, m = per_token_nll(logits, ids), mask[:, 1:].float()
    total = (nll * m).sum()
    assert torch.allclose(sft_loss(logits, ids, mask, "sum"), total)
    assert torch.allclose(sft_loss(logits, ids, mask, "tokens"), total / m.sum())
    assert torch.allclose(sft_loss(logits, ids, mask, 5.0), total / 5.0)
    assert torch.allclose(sft_loss(logits, ids, mask, torch.tensor(5.0)), total / 5.0)
    seq_means = [(nll[b] * m[b]).sum() / m[b].sum() for b in range(4) if m[b].sum() > 0]
    assert torch.allclose(sft_loss(logits, ids, mask, "sequences"), torch.stack(seq_means).mean())


def test_sequence_mean_skips_sequences_without_response_and_differs_from_token_mean():
    logits, ids, mask = random_inputs(B=3, T=12)
    mask[0] = 0                       # no response at all: must not count as a zero-loss sequence
    mask[1, 1:] = 1                   # long response
    mask[2] = 0
    mask[2, -1] = 1                   # one-token response
    nll = per_token_nll(logits, ids)
    expected = ((nll[1] * mask[1, 1:]).sum() / mask[1, 1:].sum() + nll[2, -1]) / 2
    got = sft_loss(logits, ids, mask, "sequences")
    assert torch.allclose(got, expected.float())
    assert not torch.allclose(got, sft_loss(logits, ids, mask, "tokens"))


def test_targets_outside_the_mask_are_ignored():
    logits, ids, mask = random_inputs()
    other = torch.where(mask.bool(), ids, (ids + 1) % logits.shape[-1])
    assert not torch.equal(other, ids)
    assert torch.allclose(sft_loss(logits, ids, mask), sft_loss(logits, other, mask))


@pytest.mark.parametrize("normalize", ["tokens", "sequences", "sum", 7])
def test_all_masked_batch_is_a_finite_zero_with_working_backward(normalize):
    logits, ids, mask = random_inputs()
    loss = sft_loss(logits, ids, torch.zeros_like(mask), normalize)
    assert torch.isfinite(loss) and loss.item() == 0.0
    assert loss.requires_grad
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() == 0


def test_log_softmax_runs_in_float32_under_autocast():
    logits, ids, mask = random_inputs()
    low = logits.detach().to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = sft_loss(low, ids, mask)
    assert loss.dtype == torch.float32
    assert torch.allclose(loss, sft_loss(low.float(), ids, mask))


def test_gradient_accumulation_with_global_token_count_equals_big_batch():
    logits, ids, mask = random_inputs(B=4, T=10)
    mask[0, 1:] = 1                                  # very unequal response lengths
    full_grad, = torch.autograd.grad(sft_loss(logits, ids, mask, "tokens"), logits)
    n = count_loss_tokens(mask)
    acc = torch.zeros_like(logits)
    naive = torch.zeros_like(logits)
    for part in (slice(0, 1), slice(1, 4)):
        leaf = logits.detach()[part].clone().requires_grad_()
        g, = torch.autograd.grad(sft_loss(leaf, ids[part], mask[part], n), leaf)
        acc[part] = g
        leaf2 = logits.detach()[part].clone().requires_grad_()
        g2, = torch.autograd.grad(sft_loss(leaf2, ids[part], mask[part], "tokens") / 2, leaf2)
        naive[part] = g2
    assert torch.allclose(acc, full_grad, atol=1e-7)
    assert not torch.allclose(naive, full_grad, atol=1e-4), "averaging micro-batch means should differ"


@pytest.mark.parametrize("kwargs,message", [
    (dict(normalize="mean"), "normalize"),
    (dict(normalize=0), "positive"),
    (dict(normalize=True), "normalize"),
])
def test_bad_normalize_is_named(kwargs, message):
    logits, ids, mask = random_inputs()
    with pytest.raises(ValueError, match=message):
        sft_loss(logits, ids, mask, **kwargs)


def test_bad_shapes_are_named():
    logits, ids, mask = random_inputs()
    with pytest.raises(ValueError, match="shapes disagree"):
        sft_loss(logits, ids[:, :-1], mask)
    with pytest.raises(ValueError, match=r"\(batch, time, vocab\)"):
        sft_loss(logits[0], ids, mask)
