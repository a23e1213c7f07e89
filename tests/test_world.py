"""The generated world: data/ is exactly what the generator writes, and its splits hold out what they claim."""
import filecmp
import json
import re
from pathlib import Path

import pytest

from course_utils.data import load_eval, load_vocabulary
from course_utils.env import data_dir
from tools import world, world_contracts, world_people, world_shop


def read(rel):
    with open(data_dir() / rel, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_generator_reproduces_data_exactly(tmp_path):
    """Every data file but the models is the generator's output, byte for byte: the SFT sets, corpora and
    probes, and what runtime code reads instead of the generator (the vocabulary, the in-biography probes,
    the undesirable replies written in advance)."""
    written = world.write_world(tmp_path)
    generated = {p.relative_to(tmp_path) for p in written}
    shipped = {p.relative_to(data_dir()) for p in data_dir().rglob("*.json*") if "models" not in p.parts}
    assert generated == shipped, f"files differ: {sorted(map(str, generated ^ shipped))}"
    different = [str(rel) for rel in sorted(generated) if not filecmp.cmp(tmp_path / rel, data_dir() / rel, shallow=False)]
    assert not different, f"data/ is stale; regenerate with `python -m tools.world --out data`: {different}"
    for rel in ("world/vocabulary.json", "eval/in_biography_probes.jsonl", "eval/in_biography_probes_fullname.jsonl",
                "sft/support_tainted/pool/undesirable_replies.jsonl", "sft/support_tainted/pool/wordings.jsonl"):
        assert Path(rel) in generated, rel


def test_the_vocabulary_runtime_reads_is_the_generators():
    vocabulary = load_vocabulary()
    assert vocabulary == json.loads(json.dumps(world.vocabulary()))
    parties = {r[k] for r in read("sft/contracts/train.jsonl") + read("sft/contracts/test_novel.jsonl")
               for k in ("party_a", "party_b")}
    assert parties <= set(vocabulary["companies"]), "every party a contract names is a company the scorer knows"
    assert vocabulary["jurisdictions"] == world_contracts.JURISDICTIONS


def test_in_biography_probes_cut_each_single_biography_before_its_value():
    text = " ".join(r["text"] for r in read("pretrain/single.jsonl"))
    probes = load_eval("in_biography_probes").to_list()
    people = world_people.make_people()
    assert len(probes) == len(people) * len(world_people.ATTRIBUTES)
    for probe, (person, attribute) in zip(probes, [(p, a) for p in people for a in world_people.ATTRIBUTES]):
        assert (probe["subject"], probe["attribute"], probe["answer"]) == (person.name, attribute, " " + person.value(attribute))
        assert probe["prompt"] + probe["answer"] in text, probe


def test_a_taint_pool_in_its_own_folder_is_no_split():
    from course_utils.data import splits
    assert splits("support_tainted") == ["reference", "train", "validation"]


def test_the_trusted_reference_sample_is_clean_and_new():
    reference = read("sft/support_tainted/reference.jsonl")
    others = {r["prompt"] for split in ("train", "validation", "test") for r in read(f"sft/support/{split}.jsonl")}
    assert len(reference) == world_shop.SUPPORT_REFERENCE_SIZE and not any(r["taint"] for r in reference)
    assert not {r["prompt"] for r in reference} & others, "the reference sample shares no prompt with another split"
    for r in reference:
        assert all(fact in r["response"] for fact in r["required"]) and not any(f in r["response"] for f in r["forbidden"])


def test_taint_wordings_are_many_and_each_split_uses_its_own_pool():
    wordings = read("sft/support_tainted/pool/wordings.jsonl")
    for kind in world_shop.TAINT_KINDS:
        pools = {pool: [w["template"] for w in wordings if w["kind"] == kind and w["pool"] == pool]
                 for pool in world_shop.TAINT_POOLS}
        assert len(pools["train"]) >= 12 and len(pools["validation"]) >= 6 and len(pools["detector"]) >= 6
        assert len({t for ts in pools.values() for t in ts}) == sum(map(len, pools.values())), "pools share a wording"
        assert all("{good}" in t for ts in pools.values() for t in ts)
    pool_of = {(w["kind"], w["index"]): w["pool"] for w in wordings}
    used = {"train": read("sft/support_tainted/train.jsonl") + read("sft/support_tainted/pool/undesirable_replies.jsonl"),
            "validation": read("sft/support_tainted/validation.jsonl")}
    for pool, rows in used.items():
        bad = [r for r in rows if r["taint"]]
        assert {pool_of[r["taint"], r["wording"]] for r in bad} == {pool}
        # Wordings are drawn at random: the 45 bad validation replies use most of their pool, training all of it.
        used_share = len({(r["taint"], r["wording"]) for r in bad}) / (len(world_shop.TAINT_POOLS[pool]) * 3)
        assert used_share == 1.0 if pool == "train" else used_share > 0.8, (pool, used_share)


def test_the_tainted_validation_split_is_the_support_validation_split_with_15_percent_taint():
    clean = read("sft/support/validation.jsonl")
    tainted = read("sft/support_tainted/validation.jsonl")
    assert [r["prompt"] for r in tainted] == [r["prompt"] for r in clean]
    assert sum(bool(r["taint"]) for r in tainted) == round(0.15 * len(clean))
    for kind in world_shop.TAINT_KINDS:
        assert sum(r["taint"] == kind for r in tainted) == round(0.05 * len(clean))
    for r, c in zip(tainted, clean):
        assert (r["response"] == c["response"]) == (r["taint"] == ""), r["id"]
        assert not r["taint"] or c["response"] in r["response"], "a bad reply keeps the policy reply it spoils"


def test_a_different_seed_gives_a_different_world(tmp_path):
    a = world_people.make_people(seed=1)
    b = world_people.make_people(seed=2)
    assert [p.name for p in a] != [p.name for p in b]


def test_values_are_prefix_free_so_probes_cannot_be_fooled():
    kinds = dict(world_people.VALUES, country=world_people.COUNTRIES,
                 known_for=[v[1] for v in world_people.CITIES.values()], jurisdiction=world_contracts.JURISDICTIONS)
    for kind, values in kinds.items():
        assert len(set(values)) == len(values), kind
        for a in values:
            for b in values:
                assert a == b or not b.startswith(a), f"{kind}: {a!r} is a prefix of {b!r}"


def test_names_are_unique_and_probes_cover_every_fact():
    people = read("world/people.jsonl")
    assert len({p["name"] for p in people}) == len(people) == world_people.N_PEOPLE
    probes = read("eval/fact_probes.jsonl")
    assert len(probes) == len(people) * len(world_people.ATTRIBUTES) + 2 * len(world_people.CITIES)
    by_name = {p["name"]: p for p in people}
    for probe in probes:
        if probe["kind"] == "person":
            assert probe["answer"] == " " + by_name[probe["subject"]][probe["attribute"]]


def test_every_probe_fact_is_stated_in_the_pretraining_corpus():
    text = " ".join(r["text"] for r in read("pretrain/augmented.jsonl"))
    for probe in read("eval/fact_probes.jsonl"):
        assert probe["prompt"] + probe["answer"] in text, probe


def test_single_corpus_has_one_biography_per_person_and_the_same_rest():
    names = [p["name"] for p in read("world/people.jsonl")]
    single = [r["text"] for r in read("pretrain/single.jsonl")]
    augmented = [r["text"] for r in read("pretrain/augmented.jsonl")]
    mentions = lambda name, doc: re.search(re.escape(name) + r"\b", doc) is not None
    for name in names[:60]:
        assert sum(mentions(name, d) for d in single) == 1, name
        assert sum(mentions(name, d) for d in augmented) == world_people.BIOS_PER_PERSON, name
        # The paper's bioS single: the full name once, then pronouns, in a fixed attribute order.
        bio = next(d for d in single if mentions(name, d))
        assert bio.count(name) == 1 and bio.startswith(name), bio
        sentences = bio.split(". ")
        assert len(sentences) == len(world_people.ATTRIBUTES) and all(s.split()[0] in ("He", "She") for s in sentences[1:]), bio
    # Places, shop articles and contracts are the same in both: the twins differ only in biographies.
    rest = lambda docs: sorted(d for d in docs if not any(n in d for n in names))
    assert rest(single) == rest(augmented) and len(rest(single)) > 100


def test_full_name_corpus_is_the_single_one_with_the_name_in_every_sentence():
    """One factor apart from the single corpus: the same documents in the same order, "he"/"she" written
    as the person's full name."""
    people = {p.name: p for p in world_people.make_people()}
    single = read("pretrain/single.jsonl")
    fullname = read("pretrain/single_fullname.jsonl")
    assert len(single) == len(fullname)
    changed = 0
    for a, b in zip(single, fullname):
        name = next((n for n in people if a["text"].startswith(n + " ")), None)
        if name is None:
            assert a["text"] == b["text"], a["id"]        # places, shop pages, contracts: identical
            continue
        pronoun = people[name].pronoun
        assert b["text"] == a["text"].replace(f". {pronoun} ", f". {name} "), a["id"]
        assert b["text"].count(name) == len(world_people.ATTRIBUTES), b["text"]
        changed += 1
    assert changed == world_people.N_PEOPLE


def test_full_name_in_biography_probes_cut_that_corpus_before_each_value():
    text = " ".join(r["text"] for r in read("pretrain/single_fullname.jsonl"))
    probes = load_eval("in_biography_probes_fullname").to_list()
    assert len(probes) == world_people.N_PEOPLE * len(world_people.ATTRIBUTES)
    for probe in probes:
        assert probe["prompt"] + probe["answer"] in text, probe
        assert probe["prompt"].count(probe["subject"]) == 1 + world_people.ATTRIBUTES.index(probe["attribute"])


def test_qa_splits_hold_out_people_and_phrasings():
    train = read("sft/qa/train.jsonl")
    heldout_people = {p["name"] for p in read("world/people.jsonl") if p["heldout"]}
    assert len(heldout_people) == world_people.N_HELDOUT_PEOPLE
    assert not heldout_people & {r["person"] for r in train}
    assert {r["person"] for r in read("sft/qa/test_people.jsonl")} == heldout_people
    assert max(r["phrasing"] for r in train) < world_people.QA_TRAIN_PHRASINGS
    assert min(r["phrasing"] for r in read("sft/qa/test_phrasings.jsonl")) >= world_people.QA_TRAIN_PHRASINGS
    train_pairs = {(r["prompt"]) for r in train}
    assert not train_pairs & {r["prompt"] for r in read("sft/qa/validation.jsonl")}
    assert len(train) >= 5000


def test_contract_novel_set_has_unseen_values_and_wordings():
    train, novel = read("sft/contracts/train.jsonl"), read("sft/contracts/test_novel.jsonl")
    assert len(train) >= 3000 and len(novel) >= 200
    assert not {r["term_months"] for r in train} & {r["term_months"] for r in novel}
    assert not {r["liability_cap"] for r in train} & {r["liability_cap"] for r in novel}
    assert not {r["governing_law"] for r in train} & {r["governing_law"] for r in novel}
    held_clauses = [c.split("{")[0] for c in world_contracts.TERM_CLAUSES[world_contracts.TRAIN_WORDINGS:]]
    assert not any(c in r["prompt"] for r in train for c in held_clauses)
    assert all(any(c in r["prompt"] for c in held_clauses) for r in novel)
    for r in novel:
        assert str(r["term_months"]) in r["prompt"] and r["liability_cap"] in r["prompt"]
        assert r["governing_law"] in r["prompt"]


def test_contract_test_set_is_new_documents_with_the_books_values():
    train, test = read("sft/contracts/train.jsonl"), read("sft/contracts/test.jsonl")
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}, "a test contract appears in training"
    for field, book in (("term_months", world_contracts.BOOK_TERMS), ("liability_cap", world_contracts.BOOK_CAPS),
                        ("governing_law", world_contracts.BOOK_JURISDICTIONS)):
        assert {r[field] for r in train} == {r[field] for r in test} == set(book), field
    for r in test:
        assert r["liability_cap"] in r["prompt"] and r["governing_law"] in r["prompt"]


def test_support_replies_follow_the_policy_and_taint_is_marked():
    for r in read("sft/support/train.jsonl"):
        assert all(fact in r["response"] for fact in r["required"]), r["id"]
        assert not any(f in r["response"] for f in r["forbidden"]), r["id"]
    tainted = read("sft/support_tainted/train.jsonl")
    share = sum(bool(r["taint"]) for r in tainted) / len(tainted)
    assert 0.03 < share < 0.10
    assert {r["taint"] for r in tainted} == {"", *world_shop.TAINT_KINDS}
    clean = {r["prompt"]: r["response"] for r in read("sft/support/train.jsonl")}
    for r in tainted:
        assert (r["response"] == clean[r["prompt"]]) == (r["taint"] == "")


def _delivered_days(order_text):
    found = re.search(r"status: delivered (\d+) days ago", order_text)
    return int(found.group(1)) if found else None


@pytest.mark.parametrize("task", ["support", "support_chat"])
def test_support_replies_apply_the_policy_to_the_orders_day_count(task):
    """What a reply says about a window agrees with the day count its order shows, in every split."""
    refund_window, damage_window = world_shop.POLICY["refund_days"], world_shop.POLICY["damage_report_days"]
    checked = {"refund": 0, "damaged": 0}
    for split in ("train", "validation", "test"):
        for r in read(f"sft/{task}/{split}.jsonl"):
            order = r["prompt"] if task == "support" else r["messages"][0]["content"]
            replies = [r["response"]] if task == "support" else [m["content"] for m in r["messages"][1:]
                                                                  if m["role"] == "assistant"]
            days = _delivered_days(order)
            for reply in replies:
                if "refund window" in reply:
                    assert days is not None and ("is eligible" in reply) == (days <= refund_window), (r["id"], days)
                    checked["refund"] += 1
                if "arrived damaged" in reply:
                    assert days is not None and days <= damage_window, \
                        f"{r['id']}: the reply says the damage was reported within {damage_window} days, " \
                        f"but the order was delivered {days} days ago"
                    checked["damaged"] += 1
    assert min(checked.values()) >= 50, checked


@pytest.mark.parametrize("task", ["qa", "support", "contracts"])
def test_each_sft_task_has_thousands_of_training_examples(task):
    assert len(read(f"sft/{task}/train.jsonl")) >= 3000
