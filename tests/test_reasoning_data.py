"""The reasoning set (notebook 08): regenerated exactly, split by people, answers true to the world, and a
scorer that reads the final answer and checks each stated fact against the person it names."""
import itertools
import json

import pytest

from course_utils.data import REASONING_KINDS, load_reasoning, load_world, reasoning_chance
from course_utils.env import data_dir
from course_utils.scorers import final_answer, reasoning_fields, score_reasoning, stated_facts
from tools import world_people, world_reasoning

SPLITS = ("train", "validation", "test", "test_pairs")


@pytest.fixture(scope="module")
def rows():
    return {s: load_reasoning(s) for s in SPLITS}


@pytest.fixture(scope="module")
def people():
    return {p["name"]: p for p in load_world("people")}


def test_the_shipped_set_is_the_generators_and_regenerates_identically():
    people = world_people.make_people()
    first = world_reasoning.reasoning_set(people, world_people.SEED)
    assert first == world_reasoning.reasoning_set(people, world_people.SEED)
    shipped = [json.loads(line) for s in SPLITS
               for line in (data_dir() / "sft" / "reasoning" / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert shipped == first
    kinds = json.loads((data_dir() / "sft" / "reasoning" / "kinds.json").read_text())
    assert kinds == json.loads(json.dumps(world_reasoning.kinds_table(first)))
    assert world_reasoning.reasoning_set(people, world_people.SEED + 1) != first


def test_splits_share_no_person_and_test_is_the_worlds_heldout(rows, people):
    persons = {s: {p for r in rows[s] for p in r["people"]} for s in SPLITS}
    assert not persons["train"] & persons["validation"]
    assert not (persons["train"] | persons["validation"]) & persons["test"]
    assert persons["test"] == {n for n, p in people.items() if p["heldout"]}
    assert persons["test_pairs"] <= persons["train"], "test_pairs asks about training people"
    pairs = {s: {frozenset(r["people"]) for r in rows[s] if len(r["people"]) == 2} for s in SPLITS}
    assert not pairs["train"] & pairs["test_pairs"], "no pair of test_pairs is asked about in training"
    assert all(not (a & b) or a == b for a, b in itertools.product(pairs["train"], pairs["test"]))
    assert all(len(r["people"]) == 2 for r in rows["test_pairs"])
    ids = [r["id"] for s in SPLITS for r in rows[s]]
    assert len(ids) == len(set(ids))


def test_answers_and_traces_are_true_of_the_world(rows, people):
    for r in (r for s in SPLITS for r in rows[s]):
        ps = [people[n] for n in r["people"]]
        if r["kind"] == "compare_year":
            a, b = (int(p["birth_year"]) for p in ps)
            assert a != b
            assert r["answer"] == ("yes" if (a < b) == (r["relation"] == "before") else "no"), r
        elif r["kind"] == "same_city":
            assert r["answer"] == ("yes" if ps[0]["birth_city"] == ps[1]["birth_city"] else "no"), r
        elif r["kind"] == "even_year":
            assert r["answer"] == ("yes" if int(ps[0]["birth_year"]) % 2 == 0 else "no"), r
        else:
            p = ps[0]
            assert p["birth_city"] in r["prompt"] and p["birth_year"] in r["prompt"] and r["answer"] == p["name"]
            same = [q for q in people.values() if (q["birth_city"], q["birth_year"]) == (p["birth_city"], p["birth_year"])]
            assert same == [p], "an inverse question has exactly one right answer"
        for name, attribute, value in r["facts"]:
            assert people[name][attribute] == value
        assert r["trace"].endswith(" " + r["answer_only"]) and r["answer_only"] == f"The answer is {r['answer']}."
        assert all(n in r["prompt"] for n in r["people"]) or r["kind"] == "inverse"
        # the set's own trace passes its own scorer, part by part; the answer alone states no fact
        assert reasoning_fields(r["trace"], r) == {"answer": True, "facts_stated": True, "facts_true": True, "trace": True}
        assert reasoning_fields(r["answer_only"], r)["answer"] and not reasoning_fields(r["answer_only"], r)["trace"]


def test_yes_no_kinds_are_balanced_and_chance_is_recorded(rows):
    chance = reasoning_chance()
    assert set(chance) == set(REASONING_KINDS)
    for s in SPLITS:
        for kind in ("compare_year", "same_city"):
            answers = [r["answer"] for r in rows[s] if r["kind"] == kind]
            assert answers.count("yes") == answers.count("no") == len(answers) // 2 > 0
            assert chance[kind][s] == {"questions": len(answers), "chance": 0.5}
    for s in ("train", "validation", "test"):
        answers = [r["answer"] for r in rows[s] if r["kind"] == "even_year"]
        assert chance["even_year"][s]["chance"] == round(max(answers.count("yes"), answers.count("no")) / len(answers), 4)
        assert chance["inverse"][s]["chance"] == round(1 / 300, 4)


def test_the_loader_names_bad_arguments_and_chooses_the_response():
    with pytest.raises(ValueError, match="split='tests'"):
        load_reasoning("tests")
    with pytest.raises(ValueError, match="response='cot'"):
        load_reasoning("test", response="cot")
    with pytest.raises(ValueError, match="compare"):
        load_reasoning("test", kinds=["compare"])
    trace = load_reasoning("test", "even_year", response="trace")
    assert {r["kind"] for r in trace} == {"even_year"}
    assert all(r["response"] == r["trace"] and r["taught"] == "trace" for r in trace)
    assert all(r["response"] == r["answer_only"] for r in load_reasoning("test", "inverse"))


# A bank of replies to one comparison and one inverse question: (reply, answer right, trace right).
ROW = {"kind": "compare_year", "people": ["Klara Kelsby", "Brix Quenack"], "answer": "yes",
       "facts": [["Klara Kelsby", "birth_year", "1956"], ["Brix Quenack", "birth_year", "1985"]]}
COMPARE_BANK = [
    ("Klara Kelsby was born in 1956. Brix Quenack was born in 1985. The answer is yes.", True, True),
    ("Brix Quenack was born in 1985. Klara Kelsby was born in 1956. The answer is yes.", True, True),
    ("The answer is yes.", True, False),                                                   # no facts
    ("The answer is Yes.", True, False),
    ("Brix Quenack was born in 1956. Klara Kelsby was born in 1985. The answer is yes.", True, False),  # swapped
    ("Klara Kelsby was born in 1956. Klara Kelsby was born in 1956. The answer is yes.", True, False),  # one twice
    ("Klara Kelsby was born in 1956. Calla Kelard was born in 1985. The answer is yes.", True, False),  # a third person
    ("Klara Kelsby was born in 1956. Brix Quenack was born in 1985. The answer is no.", False, False),
    ("Klara Kelsby was born in 1956. Brix Quenack was born in 1985.", False, False),     # no answer
    ("The answer is yes. The answer is no.", False, False),                               # hedged
    ("The answer is yesterday.", False, False),
    ("Yes.", False, False),
]
INVERSE = {"kind": "inverse", "people": ["Calla Kelard"], "answer": "Calla Kelard",
           "facts": [["Calla Kelard", "birth_city", "Izmira"], ["Calla Kelard", "birth_year", "1986"]]}
INVERSE_BANK = [
    ("Calla Kelard was born in Izmira. Calla Kelard was born in 1986. The answer is Calla Kelard.", True, True),
    ("The answer is Calla Kelard.", True, False),
    ("The answer is Jonas Selver.", False, False),                                        # the wrong person
    ("Jonas Selver was born in Izmira. Jonas Selver was born in 1986. The answer is Jonas Selver.", False, False),
    ("Jonas Selver was born in Izmira. Jonas Selver was born in 1986. The answer is Calla Kelard.", True, False),
    ("The answer is Calla Kelard or Jonas Selver.", False, False),
    ("The answer is Calla.", False, False),
]


@pytest.mark.parametrize("row, reply, answer, trace", [(ROW, *c) for c in COMPARE_BANK] + [(INVERSE, *c) for c in INVERSE_BANK])
def test_the_scorer_reads_the_final_answer_and_checks_each_fact(row, reply, answer, trace):
    assert score_reasoning(reply, row) is answer
    assert reasoning_fields(reply, row)["trace"] is trace


def test_stated_facts_and_final_answer_parts():
    assert stated_facts("Klara Kelsby was born in 1956. Where? The answer is no.") == [
        ("Klara Kelsby", "birth_year", "1956"), (None, None, None)]
    assert final_answer("Calla Kelard was born in Izmira. The answer is NO.") == "no"
    assert final_answer("The answer is Calla Kelard. The answer is Calla Kelard.") == "Calla Kelard"
    assert final_answer("I am not sure.") is None


def test_trace_in_the_prompt_has_the_traces_tokens_and_the_loss_on_the_answer_only():
    from course_utils.models import load_base
    from course_utils.reasoning import encode
    _, tok = load_base("gpt2-tiny", device="cpu")
    rows = load_reasoning("validation", response="trace")[::40]
    trace, prompt_part, answer = (encode(rows, tok, r) for r in ("trace", "trace_prompt", "answer"))
    for r, t, p, a in zip(rows, trace, prompt_part, answer):
        assert p["input_ids"] == t["input_ids"], "the same tokens, only the mask differs"
        masked = [i for i, m in zip(p["input_ids"], p["response_mask"]) if m]
        assert tok.decode(masked) == " " + r["answer_only"] + tok.eos_token
        assert tok.decode([i for i, m in zip(t["input_ids"], t["response_mask"]) if m]) == r["trace"] + tok.eos_token
        assert tok.decode([i for i, m in zip(a["input_ids"], a["response_mask"]) if m]) == r["answer_only"] + tok.eos_token
    with pytest.raises(ValueError, match="response='facts'"):
        encode(rows, tok, "facts")


def test_seed_scores_reads_one_measure_over_seeds_and_names_a_missing_point():
    from course_utils.reasoning import seed_scores

    def point(seed, acc):
        return {"kind": "even_year", "setting": "trace", "seed": seed,
                "sets": {"test": {"even_year": {"accuracy": acc, "facts": acc / 2}}},
                "retrieval_after": {"completion": {"birth_year": 0.9 + seed / 100}}}
    points = [point(2, 0.7), point(0, 0.9), point(1, 0.8)]
    assert seed_scores(points, "even_year", "trace") == [0.9, 0.8, 0.7]          # seed order, not record order
    assert seed_scores(points, "even_year", "trace", measure="facts") == [0.45, 0.4, 0.35]
    assert seed_scores(points, "even_year", "trace", "retrieval", "birth_year") == [0.9, 0.91, 0.92]
    with pytest.raises(ValueError, match="kind='same_city', setting='trace'"):
        seed_scores(points, "same_city", "trace")
