"""The helpers behind notebooks 04-06: data subsets, taint mixing, scorers, sampling, freezing, checkers."""
import random
import re
from types import SimpleNamespace

import pytest
import torch

from course_utils.checks import (CheckFailed, check_forgetting_choice, check_leak_rule, check_people_split,
                                 check_replay_mix)
from course_utils.data import load_sft, load_vocabulary, load_world
from course_utils.data_quality import (best_cutoff, cutoff_curve, filter_support, fine_tune_support, foreign_email,
                                       precision_recall, response_losses, tainted_support_set)
from course_utils.encode import encode_example
from course_utils.evaluate import generate
from course_utils.forgetting import freeze_all_but_top
from course_utils.generalization import (QA_RUN, biography_exposure, compare, in_biography_probes, place_questions,
                                         qa_baselines, qa_subset, size_config, spread, within_task_tests,
                                         wording_tests)
from course_utils.replay import mix_with_replay
from course_utils.scorers import score_qa, undesirable_kinds


def test_qa_subset_filters_wordings_then_samples():
    one = qa_subset(phrasings=1)
    assert {r["phrasing"] for r in one} == {0} and len(one) > 900
    some = qa_subset(300, phrasings=2, seed=1)
    assert len(some) == 300 and {r["phrasing"] for r in some} <= {0, 1}
    assert qa_subset(300, phrasings=2, seed=1) == some
    with pytest.raises(ValueError, match="phrasings must be"):
        qa_subset(phrasings=load_vocabulary("qa_train_phrasings") + 1)
    with pytest.raises(ValueError, match="only"):
        qa_subset(5000, phrasings=1)


def test_place_questions_and_the_scorer_with_options():
    rows = place_questions()
    assert len(rows) == 2 * len(load_world("places"))
    q = rows[0]
    assert score_qa(f"It is in {q['answer']}.", q, options=q["options"])
    wrong = next(o for o in q["options"] if o != q["answer"])
    assert not score_qa(f"It is in {wrong}.", q, options=q["options"])
    assert not score_qa(f"{q['answer']} or {wrong}.", q, options=q["options"]), "naming two answers is not an answer"


@pytest.mark.parametrize("share", [0.0, 0.05, 0.15])
def test_tainted_support_set_has_the_share_and_marks_every_bad_reply(share):
    rows = tainted_support_set(share, seed=2)
    clean = {r["prompt"]: r["response"] for r in load_sft("support", "train")}
    bad = [r for r in rows if r["taint"]]
    assert len(rows) == 4000 and len(bad) == round(share * 4000)
    for r in rows:
        assert (r["response"] != clean[r["prompt"]]) == bool(r["taint"]), r["id"]
    for r in bad:   # the detector used in notebook 06 flags every bad reply, though it never saw these wordings
        assert undesirable_kinds(r["response"], r), (r["taint"], r["response"])
        assert r["wording"] in range(12), "the training taint uses the train pool's wordings"
    assert all(r["wording"] is None for r in rows if not r["taint"])
    with pytest.raises(ValueError, match="taint share"):
        tainted_support_set(0.6)


def test_clean_support_replies_are_not_flagged():
    for r in load_sft("support", "train").select(range(500)):
        assert undesirable_kinds(r["response"], r) == [], r["response"]


def test_response_losses_cover_exactly_the_response_tokens(tiny_model, tokenizer):
    examples = [encode_example(tokenizer, f"Q{i}: say it\n", "word " * (i + 1)) for i in range(5)]
    losses = response_losses(tiny_model, examples, tokenizer.eos_token_id, batch_size=2)
    assert [len(x) for x in losses] == [sum(e["response_mask"]) for e in examples]
    assert all(torch.isfinite(x).all() and (x > 0).all() for x in losses)


def test_sampling_is_seeded_and_greedy_is_the_default(base):
    model, tok = base
    prompts = ["Veralon is a city in", "The employer of"] * 3
    a = generate(model, tok, prompts, max_new_tokens=6, temperature=1.5, seed=3)
    assert a == generate(model, tok, prompts, max_new_tokens=6, temperature=1.5, seed=3)
    assert a != generate(model, tok, prompts, max_new_tokens=6, temperature=1.5, seed=4)
    assert generate(model, tok, prompts, max_new_tokens=6) == generate(model, tok, prompts, max_new_tokens=6,
                                                                         temperature=1e-4, seed=9)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, tok, prompts, temperature=0)


def test_freezing_keeps_only_the_top_blocks_trainable(tiny_model):
    n = freeze_all_but_top(tiny_model, 1)
    trainable = [name for name, p in tiny_model.named_parameters() if p.requires_grad]
    assert trainable and all(t.startswith(("transformer.h.1.", "transformer.ln_f")) for t in trainable)
    assert n == sum(p.numel() for p in tiny_model.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="trainable_blocks"):
        freeze_all_but_top(tiny_model, 3)


# ---- exercise checkers of notebooks 04-06 --------------------------------------------------------
def test_replay_checker_accepts_the_helper_and_rejects_mistakes():
    check_replay_mix(mix_with_replay)

    def share_of_sft(sft, pool, share, seed=0):
        rng = random.Random(seed)
        mixed = list(sft) + rng.sample(list(pool), round(share * len(sft)))
        rng.shuffle(mixed)
        return mixed

    def unshuffled(sft, pool, share, seed=0):
        return list(sft) + random.Random(seed).sample(list(pool), round(share * len(sft) / (1 - share)))

    def with_repeats(sft, pool, share, seed=0):
        rng = random.Random(seed)
        mixed = list(sft) + [rng.choice(list(pool)[:3]) for _ in range(round(share * len(sft) / (1 - share)))]
        rng.shuffle(mixed)
        return mixed

    def unseeded(sft, pool, share, seed=0):
        mixed = list(sft) + random.sample(list(pool), round(share * len(sft) / (1 - share)))
        random.shuffle(mixed)
        return mixed

    for fn, message in [(share_of_sft, "expected 30"), (unshuffled, "all come first"),
                        (with_repeats, "appears twice"), (unseeded, "same seed")]:
        with pytest.raises(CheckFailed, match=message):
            check_replay_mix(fn)


def test_people_split_checker():
    def right(rows, n, seed=0):
        test = set(random.Random(seed).sample(sorted({r["person"] for r in rows}), n))
        return [r for r in rows if r["person"] not in test], [r for r in rows if r["person"] in test]

    def by_row(rows, n, seed=0):
        rows = list(rows)
        random.Random(seed).shuffle(rows)
        return rows[n * 5:], rows[: n * 5]

    def first_people(rows, n, seed=0):
        test = sorted({r["person"] for r in rows})[:n]
        return [r for r in rows if r["person"] not in test], [r for r in rows if r["person"] in test]

    check_people_split(right)
    with pytest.raises(CheckFailed, match="row split"):
        check_people_split(by_row)
    with pytest.raises(CheckFailed, match="not random"):
        check_people_split(first_people)


def test_leak_rule_checker():
    def right(reply, customer):
        own = customer.lower().replace(" ", ".") + "@example.com"
        return any(a.rstrip(".").lower() != own for a in re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", reply))

    check_leak_rule(right)
    check_leak_rule(foreign_email)     # the rule the recorded experiment uses in place of the student's
    with pytest.raises(CheckFailed, match="ending a sentence"):
        check_leak_rule(lambda reply, customer: any(
            a.lower() != customer.lower().replace(" ", ".") + "@example.com"
            for a in re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", reply)))
    with pytest.raises(CheckFailed, match="returned False for"):
        check_leak_rule(lambda reply, customer: "@" in reply and customer.split()[0].lower() not in reply.lower())
    with pytest.raises(CheckFailed, match="own address"):
        check_leak_rule(lambda reply, customer: "@" in reply)


def test_forgetting_choice_checker():
    from course_utils.checks.forgetting import CHOICE_CASES, reference_choice
    check_forgetting_choice(reference_choice)
    assert [reference_choice(*case[1:]) for case in CHOICE_CASES] == \
        ["B", "B", "B", "B", "B", "A", "A", None, "A", "B", "A", "B", None]
    with pytest.raises(CheckFailed, match="instead of the worst seed"):
        check_forgetting_choice(lambda f, b, t, k: max(
            (n for n in f if sum(p["facts"] for p in f[n]) / len(f[n]) >= k * b and min(p["support"] for p in f[n]) >= t),
            key=lambda n: sum(p["facts"] for p in f[n]), default=None))
    with pytest.raises(CheckFailed, match="ignored the task target"):
        check_forgetting_choice(lambda f, b, t, k: max(f, key=lambda n: min(p["facts"] for p in f[n]), default=None))
    with pytest.raises(CheckFailed, match="not written yet"):
        check_forgetting_choice(lambda f, b, t, k: (_ for _ in ()).throw(NotImplementedError()))


def test_in_biography_probes_cut_the_single_biography_before_each_value():
    probes = in_biography_probes()
    from course_utils.data import load_pretraining
    text = "\n".join(load_pretraining("single")["text"])
    attributes = load_vocabulary("attributes")
    assert len(probes) == len(load_world("people")) * len(attributes)
    for probe in probes[:200]:
        assert probe["prompt"] + probe["answer"] in text, probe
    # After the first attribute, the probe reaches its value only through the pronoun sentences.
    later = [p for p in probes if p["attribute"] != attributes[0]]
    assert all(p["prompt"].count(p["subject"]) == 1 and p["prompt"].startswith(p["subject"]) for p in later)


def test_qa_baselines_chance_and_constant_answer():
    train = load_sft("qa", "train").to_list()
    test = load_sft("qa", "test_people").to_list()
    base = qa_baselines(test, train)
    expected_chance = sum(1 / len(load_vocabulary("values")[r["attribute"]]) for r in test) / len(test)
    assert base["chance"] == pytest.approx(expected_chance) and 0.02 < base["chance"] < 0.08
    # A constant answer is right exactly for the people who have the most common value.
    only_years = [r for r in test if r["attribute"] == "birth_year"]
    assert 0 <= qa_baselines(only_years, train)["constant"] < 0.2


def test_precision_recall_counts_and_names_a_length_mismatch():
    assert precision_recall([True, True, False, False], [True, False, True, False]) == \
        {"flagged": 2, "caught": 1, "bad": 2, "precision": 0.5, "recall": 0.5}
    assert precision_recall([False, False], [False, False])["precision"] == 1.0
    with pytest.raises(ValueError, match="flags has 1 entries but bad has 2"):
        precision_recall([True], [True, False])


def test_the_cutoff_is_chosen_in_the_middle_of_the_gap_on_validation():
    curve = cutoff_curve([1.0, 2.0, 3.0, 7.0, 8.0], [False, False, False, True, True])
    assert [p["cutoff"] for p in curve] == [7.5, 5.0, 2.5, 1.5, 1.0]
    assert [p["flagged"] for p in curve] == [1, 2, 3, 4, 5]
    assert best_cutoff(curve) == 5.0 and curve[1]["f1"] == 1.0
    with_rule = cutoff_curve([1.0, 2.0, 9.0], [True, False, True], always=[True, False, False])
    assert with_rule[0] == {"flagged": 2, "caught": 2, "bad": 2, "precision": 1.0, "recall": 1.0,
                            "cutoff": 5.5, "f1": 1.0}, "the rule's flags count at every cut-off"
    with pytest.raises(ValueError, match="one entry per example"):
        cutoff_curve([1.0], [True, False])
    with pytest.raises(ValueError, match="curve is empty"):
        best_cutoff([])


def test_filter_support_flags_by_rule_and_by_loss(tiny_model, tokenizer):
    rows = tainted_support_set(0.15)[:40]
    validation = load_sft("support_tainted", "validation").to_list()[:30]
    model, encoded = fine_tune_support(tiny_model, tokenizer, rows, recipe=dict(max_steps=1, batch_size=4, lr=1e-3),
                                       device="cpu")
    f = filter_support(model, tokenizer, rows, encoded, validation)
    assert len(f["scores"]) == len(rows) and len(f["val_scores"]) == len(validation)
    assert f["by_loss"] == [s >= f["cutoff"] for s in f["scores"]]
    assert f["by_rule"] == [foreign_email(r["response"], r["customer"]) for r in rows]
    assert f["kept"] == [r for r, a, b in zip(rows, f["by_rule"], f["by_loss"]) if not (a or b)]
    val_flags = [s >= f["cutoff"] or r for s, r in zip(f["val_scores"], f["val_rule"])]
    assert f["validation_at_cutoff"] == precision_recall(val_flags, f["val_bad"])
    assert f["cutoff"] == best_cutoff(f["curve"])
    with pytest.raises(ValueError, match="encode exactly rows"):
        filter_support(model, tokenizer, rows[:3], encoded, validation)
    with pytest.raises(ValueError, match="rows is empty"):
        fine_tune_support(tiny_model, tokenizer, [])


def test_a_difference_counts_only_where_the_seed_ranges_separate():
    assert compare([0.50, 0.55], [0.56, 0.70]) == "higher, beyond the seed spread"
    assert compare([0.56, 0.70], [0.50, 0.55]) == "lower, beyond the seed spread"
    assert compare([0.50, 0.60], [0.55, 0.70]) == "not distinguishable at this size"
    assert compare([0.50, 0.60], [0.60, 0.70]) == "not distinguishable at this size", "a tie is no separation"
    assert spread([0.2, 0.4, 0.9]) == (pytest.approx(0.5), 0.2, 0.9)
    with pytest.raises(ValueError, match="values is empty"):
        spread([])


def test_size_schedules_hold_steps_or_epochs_equal():
    assert size_config("steps") == QA_RUN
    by_epochs = size_config("epochs", epochs=2)
    assert by_epochs.max_steps is None and by_epochs.epochs == 2 and by_epochs.lr == QA_RUN.lr
    assert [by_epochs.total_steps(n) for n in (150, 6000)] == [20, 750], "two passes: steps grow with the set"
    assert {QA_RUN.total_steps(n) for n in (150, 6000)} == {QA_RUN.max_steps}
    with pytest.raises(ValueError, match="schedule must be one of"):
        size_config("tokens")
    with pytest.raises(ValueError, match="epochs must be > 0"):
        size_config("epochs", epochs=0)


def test_wording_tests_group_seen_people_by_wording():
    tests = wording_tests(20)
    assert list(tests) == list(range(8))
    trained = load_vocabulary("qa_train_phrasings")
    heldout_people = {p["name"] for p in load_world("people") if p["heldout"]}
    for w, rows in tests.items():
        assert len(rows) == 20 and {r["phrasing"] for r in rows} == {w}
        assert {r["split"] for r in rows} == {"validation" if w < trained else "test_phrasings"}
        assert not {r["person"] for r in rows} & heldout_people
    assert wording_tests(20) == tests, "a fixed sample"
    assert set(within_task_tests(5)) == {"seen people, seen wording", "seen people, new wording", "new people"}


def test_biography_exposure_counts_each_persons_text():
    from transformers import AutoTokenizer
    from course_utils.env import data_dir
    tok = AutoTokenizer.from_pretrained(data_dir() / "models" / "tokenizer")
    single, augmented = biography_exposure("single", tok), biography_exposure("augmented", tok)
    assert single["biographies"] == 1 and augmented["biographies"] == 5
    assert 20 < single["tokens"] < augmented["tokens"] / 3, (single, augmented)


def test_settings_by_name_reads_the_record_per_setting_and_seed():
    from course_utils.forgetting import HALVES, load_frontier, settings_by_name
    settings, base_facts = settings_by_name()
    record, groups = load_frontier()
    assert len(settings) == sum(len(axis["values"]) for axis in record["settings"]["grid"].values())
    assert all(sorted(p["seed"] for p in points) == [0, 1, 2] for points in settings.values())
    assert [p["facts"] for p in settings["full, lr 6e-04"]] == \
        [p["halves"][HALVES[1]]["facts"] for p in groups[("full", 0.0006)]]
    assert base_facts == groups[("base", None)][0]["halves"][HALVES[1]]["facts"]
    assert settings_by_name(half=None)[1] == groups[("base", None)][0]["facts"]
