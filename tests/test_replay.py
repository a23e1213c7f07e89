"""Replay mixing: the share is exact, every SFT example is kept, replay text never reaches evaluation."""
import pytest

from course_utils.data import load_eval, load_sft, load_world
from course_utils.encode import encode_example
from course_utils.replay import mix_with_replay, replay_count, replay_pool


@pytest.fixture(scope="module")
def pool(tokenizer):
    return replay_pool(tokenizer)


def sft_examples(tokenizer, n):
    rows = load_sft("support", "train").select(range(n))
    return [encode_example(tokenizer, r["prompt"], r["response"]) for r in rows]


@pytest.mark.parametrize("n, share, expected", [(300, 0.25, 100), (300, 0.5, 300), (100, 0.0, 0), (90, 0.1, 10)])
def test_mix_has_exactly_the_share_asked_for(tokenizer, pool, n, share, expected):
    sft = sft_examples(tokenizer, n)
    mixed = mix_with_replay(sft, pool, share, seed=3)
    replay = [e for e in mixed if e["source"] == "pretrain"]
    assert replay_count(n, share) == expected and len(replay) == expected
    assert len(mixed) == n + expected and len(replay) / len(mixed) == pytest.approx(share, abs=1e-12)
    # every SFT example is kept exactly once, in a shuffled order
    kept = sorted(tuple(e["input_ids"]) for e in mixed if e["source"] == "sft")
    assert kept == sorted(tuple(e["input_ids"]) for e in sft)
    if expected:
        assert [e["source"] for e in mixed[: n]] != ["sft"] * n, "replay examples must be shuffled in"


def test_share_is_within_one_example_when_not_exact(tokenizer, pool):
    mixed = mix_with_replay(sft_examples(tokenizer, 97), pool, 0.3, seed=0)
    share = sum(e["source"] == "pretrain" for e in mixed) / len(mixed)
    assert abs(share - 0.3) <= 1 / len(mixed)


def test_replay_documents_do_not_repeat_before_the_pool_is_used_up(tokenizer, pool):
    small_pool = pool[:50]
    mixed = mix_with_replay(sft_examples(tokenizer, 60), small_pool, 0.5, seed=1)   # 60 replay from 50 docs
    replay = [tuple(e["input_ids"]) for e in mixed if e["source"] == "pretrain"]
    assert len(replay) == 60 and len(set(replay)) == 50


def test_replay_examples_are_whole_documents_with_loss_on_every_token(tokenizer, pool):
    assert len(pool) > 1000
    for e in pool[:50]:
        assert e["input_ids"][0] == tokenizer.eos_token_id and e["response_mask"] == [0] + [1] * (len(e["input_ids"]) - 1)


def test_no_replay_text_is_evaluation_text(tokenizer, pool):
    pool_texts = {tokenizer.decode(e["input_ids"][1:]) for e in pool}
    heldout = {r["text"] for r in load_eval("heldout_text")}
    assert not pool_texts & heldout, "perplexity is measured on text that replay would train on"
    validation = {r["prompt"] + r["response"] for r in load_sft("support", "validation")}
    assert not any(v in t for t in pool_texts for v in list(validation)[:20])


def test_bad_shares_are_refused(tokenizer, pool):
    sft = sft_examples(tokenizer, 10)
    for share in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="share"):
            mix_with_replay(sft, pool, share)
    with pytest.raises(ValueError, match="pool is empty"):
        mix_with_replay(sft, [], 0.5)
    with pytest.raises(ValueError, match="no SFT examples"):
        mix_with_replay([], pool, 0.5)


def test_replay_of_half_the_people_never_draws_the_other_half(tokenizer):
    from course_utils.data import load_pretraining
    from course_utils.forgetting import HALVES, half_of, replayed_people

    people = replayed_people()
    everyone = {p["name"] for p in load_world("people")}
    assert len(people) == len(everyone) // 2 and people < everyone
    half_pool = replay_pool(tokenizer, people=people)
    drawn = {tokenizer.decode(e["input_ids"][1:]) for e in half_pool}
    for row in load_pretraining("augmented"):
        named = {n for n in everyone if n in row["text"]}
        assert len(named) <= 1, f"{row['id']} names {sorted(named)}: a document must belong to one half"
        assert (row["text"] in drawn) == bool(named & people), f"{row['id']} is on the wrong side of the split"
        assert half_of(row["text"]) == (HALVES[0] if named & people else HALVES[1])
    with pytest.raises(ValueError, match="people"):
        replay_pool(tokenizer, people=set())
