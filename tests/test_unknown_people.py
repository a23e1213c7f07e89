"""Unknown people (issue 26, after Gekhman et al. 2024): people of the world whom no pre-training document
mentions, questions about them, and the "I don't know" replies SFT may teach instead of their facts."""
import json
import re

import pytest

from course_utils.data import load_abstention_wordings, load_sft, load_unknown_qa, load_world
from course_utils.env import data_dir
from course_utils.scorers import abstains, unknown_reply_kind
from tools import world_people


def read(rel):
    with open(data_dir() / rel, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


UNKNOWN_FILES = {"world/unknown_people.jsonl", "sft/qa_unknown/train.jsonl", "sft/qa_unknown/validation.jsonl",
                 "sft/qa_unknown/test_people.jsonl", "sft/qa_unknown/pool/abstentions.jsonl"}


@pytest.fixture(scope="module")
def unknown():
    return load_world("unknown_people")


def test_the_generator_writes_the_shipped_unknown_people_and_their_questions():
    known = world_people.make_people()
    people = world_people.make_unknown_people(known)
    assert [p.name for p in people] == [r["name"] for r in read("world/unknown_people.jsonl")]
    rows = world_people.unknown_qa_set(people, world_people.SEED)
    for split in ("train", "validation", "test_people"):
        assert [r for r in rows if r["split"] == split] == read(f"sft/qa_unknown/{split}.jsonl"), split
    assert world_people.abstention_wordings() == read("sft/qa_unknown/pool/abstentions.jsonl")


def test_unknown_people_are_in_no_pretraining_document(unknown):
    """Neither the full name nor the surname (every surname is unique to one person) appears in any
    pre-training corpus: SFT facts about these people are knowledge the base model never had."""
    surnames = re.compile(r"(?<![\w])(" + "|".join(p["name"].split()[-1] for p in unknown) + r")(?![\w])")
    corpora = sorted((data_dir() / "pretrain").glob("*.jsonl"))
    assert len(corpora) == 3
    for path in corpora:
        with open(path, encoding="utf-8") as f:
            for line in f:
                found = surnames.search(json.loads(line)["text"])
                assert found is None, f"{path.name} mentions {found[0]}"


def test_unknown_people_are_in_no_other_data_file(unknown):
    """No probe, held-out text or SFT row of another task names them either."""
    names = [p["name"] for p in unknown]
    others = [p for p in data_dir().rglob("*.json*")
              if "models" not in p.parts and str(p.relative_to(data_dir())) not in UNKNOWN_FILES]
    assert len(others) > 20
    for path in others:
        text = path.read_text(encoding="utf-8")
        assert not [n for n in names if n.split()[-1] in text], path


def test_unknown_names_look_like_known_ones_and_are_disjoint_from_them(unknown):
    known = load_world("people")
    assert len(unknown) == world_people.N_UNKNOWN_PEOPLE
    assert sum(p["heldout"] for p in unknown) == world_people.N_UNKNOWN_TEST_PEOPLE
    surnames = lambda people: [p["name"].split()[-1] for p in people]
    assert len(set(surnames(unknown))) == len(unknown)
    assert not set(surnames(unknown)) & set(surnames(known)), "a surname shared with a known person"
    assert not {p["name"] for p in unknown} & {p["name"] for p in known}
    # The same first names, surname parts and value lists: nothing in a row marks a person as unknown.
    possible = {h + t for h in world_people.SURNAME_HEADS for t in world_people.SURNAME_TAILS}
    for p in unknown:
        first, surname = p["name"].split()
        assert first in world_people.FIRST_NAMES and surname in possible, p
        assert all(p[a] in world_people.VALUES[a] for a in world_people.ATTRIBUTES), p


def test_unknown_questions_hold_out_their_test_people(unknown):
    test_people = {p["name"] for p in unknown if p["heldout"]}
    train, validation = load_unknown_qa("train"), load_unknown_qa("validation")
    test = load_unknown_qa("test_people")
    assert {r["person"] for r in test} == test_people
    assert not {r["person"] for r in train + validation} & test_people
    facts = {(r["person"], r["attribute"]) for r in train}
    assert len(facts) == (len(unknown) - len(test_people)) * len(world_people.ATTRIBUTES)
    assert {(r["person"], r["attribute"]) for r in validation} == facts
    pairs = {(r["person"], r["attribute"], r["phrasing"]) for r in train}
    assert not {(r["person"], r["attribute"], r["phrasing"]) for r in validation} & pairs
    by_name = {p["name"]: p for p in unknown}
    for r in train + validation + test:
        assert r["answer"] == by_name[r["person"]][r["attribute"]] and r["answer"] in r["response"], r
        assert r["phrasing"] < world_people.QA_TRAIN_PHRASINGS


def test_abstaining_rows_swap_the_response_for_a_train_pool_refusal():
    facts, refusals = load_unknown_qa("train"), load_unknown_qa("train", abstain=True)
    templates = [w["template"] for w in load_abstention_wordings("train")]
    for f, r in zip(facts, refusals):
        assert (f["prompt"], f["person"]) == (r["prompt"], r["person"])
        assert (f["taught"], r["taught"]) == ("fact", "abstention")
        assert r["response"] == f["abstention"] != f["response"]
        what = world_people.ABSTENTION_WHAT[r["attribute"]].format(n=r["person"])
        assert r["response"] == templates[r["abstention_wording"]].format(n=r["person"], what=what)
    assert len({r["abstention_wording"] for r in refusals}) == len(templates), "every train wording is used"
    with pytest.raises(ValueError, match="no split"):
        load_unknown_qa("test")
    assert set(load_sft("qa_unknown")) == {"train", "validation", "test_people"}, "the pool folder is no split"


def test_the_abstention_detector_reads_wordings_no_training_reply_used():
    """`abstains` is built from words of not knowing, not from the training replies: it flags every
    wording of the detector pool, which no SFT row uses, and no answer of the QA sets."""
    train = {w["template"] for w in load_abstention_wordings("train")}
    detector = load_abstention_wordings("detector")
    assert detector and not train & {w["template"] for w in detector}
    name, what = "Ulla Brenner", "where Ulla Brenner was born"
    for w in load_abstention_wordings():
        text = w["template"].format(n=name, what=what)
        assert abstains(text) and unknown_reply_kind(text, {}) == "abstained", text
    answers = [r["response"] for r in load_unknown_qa("test_people")] + list(load_sft("qa", "validation")["response"])
    assert not any(abstains(a) for a in answers)
    assert all(unknown_reply_kind(a, {}) == "made up" for a in answers)
    assert unknown_reply_kind("I don't know, maybe 1970.", {}) == "made up", "a hedged value is still made up"
    assert unknown_reply_kind("Ulla Brenner is a person.", {}) == "other"

