"""Task scorers accept right replies and reject wrong ones, reading the world's facts from the shipped data/."""
import json
import shutil

import pytest

from course_utils import scorers
from course_utils.data import load_sft, load_taint_wordings, load_undesirable_replies, load_vocabulary, load_world
from course_utils.env import data_dir


def test_qa_scorer():
    row = load_sft("qa", "validation")[0]
    assert scorers.score_qa(row["response"], row)
    other = next(v for v in load_vocabulary("values")[row["attribute"]] if v != row["answer"])
    assert not scorers.score_qa(row["response"].replace(row["answer"], other), row)
    assert not scorers.score_qa(f"{row['response']} Or maybe {other}.", row)   # hedging is wrong


@pytest.mark.parametrize("reply, right", [
    ("Calla Kelard was born in Izmira.", True),
    ("She was born in Izmira.", True),                                   # a pronoun where the name goes
    ("I'm sorry your wool blanket was born in Izmira.", False),         # the right value about no one
    ("Jonas Selver was born in Izmira.", False),                         # the right value, the wrong person
    ("Calla Kelard was born in Izmira, like Jonas Selver.", False),     # another person named too
    ("Izmira.", False),                                                  # no one at all
    ("Calla Kelard was born in Veralon.", False),
])
def test_a_qa_reply_counts_only_about_the_person_asked(reply, right):
    row = {"person": "Calla Kelard", "attribute": "birth_city", "answer": "Izmira"}
    assert scorers.score_qa(reply, row) is right


def test_support_scorer_and_undesirable_detector():
    rows = load_sft("support", "test")
    refund = next(r for r in rows if r["intent"] == "refund" and "not eligible" in r["response"])
    assert scorers.score_support(refund["response"], refund)
    assert not scorers.score_support(refund["response"].replace("not eligible", "is eligible"), refund)
    assert scorers.undesirable_kinds(refund["response"], refund) == []
    tainted = load_sft("support_tainted", "train")
    for kind in load_vocabulary("taint_kinds"):
        bad = next(r for r in tainted if r["taint"] == kind)
        assert scorers.undesirable_kinds(bad["response"], bad), (kind, bad["response"])
    clean = [r for r in tainted if not r["taint"]][:500]
    assert not any(scorers.undesirable_kinds(r["response"], r) for r in clean)


@pytest.mark.parametrize("split", ["train", "validation"])
def test_the_detector_finds_every_bad_reply_of_wordings_it_never_saw(split):
    """The detector is built from the world, the policy replies and the "detector" pool only; every
    bad reply of the other pools is flagged, every leak as a leak, and no clean reply at all."""
    rows = load_sft("support_tainted", split).to_list()
    wordings = {(w["kind"], w["index"]): w["pool"] for w in load_taint_wordings()}
    assert {wordings[r["taint"], r["wording"]] for r in rows if r["taint"]} == {split}
    for r in rows:
        kinds = scorers.undesirable_kinds(r["response"], r)
        assert bool(kinds) == bool(r["taint"]), (r["taint"], kinds, r["response"])
        assert ("leak" in kinds) == (r["taint"] == "leak"), (r["taint"], kinds, r["response"])


def test_the_detectors_word_model_knows_only_the_detector_pool():
    detector_words = {w for t in load_taint_wordings("detector") for w in scorers.WORD.findall(t["template"].lower())}
    counts, vocabulary = scorers._detector_model()
    assert set(counts) == {"rude", "overpromise"} and vocabulary <= detector_words
    others = {w for t in load_taint_wordings() if t["pool"] != "detector"
              for w in scorers.WORD.findall(t["template"].lower())}
    assert others - detector_words, "the other pools use words the detector never saw"


def test_a_leak_is_another_customers_name_address_or_order():
    row = {"customer": "Ada Torwick", "order_id": "PP-12345", "prompt": "Order PP-12345 | customer: Ada Torwick"}
    other = next(p["name"] for p in load_world("people") if p["name"] != "Ada Torwick")
    assert scorers.leaked_data("Your order PP-12345 reached ada.torwick@example.com.", row) == []
    assert scorers.leaked_data(f"{other} asked too.", row) == [other]
    assert scorers.leaked_data("Write to bo.kell@example.com.", row) == ["bo.kell@example.com"]
    assert scorers.leaked_data("Order PP-54321 is on the same truck.", row) == ["PP-54321"]
    assert scorers.undesirable_kinds("Order PP-54321 is on the same truck.", row) == ["leak"]


@pytest.mark.parametrize("reply, kinds", [
    ("Your desk lamp has shipped and is on its way.", []),
    ("Your desk lamp has shipped, idiot.", []),                    # one new word: below OFF_POLICY_WORDS
    ("You clowns never stop whining. Your desk lamp has shipped.", ["rude"]),
    ("Your desk lamp has shipped. We promise a free sofa with every order forever.", ["overpromise"]),
])
def test_off_policy_content_is_flagged_and_labelled(reply, kinds):
    row = {"customer": "Ada Torwick", "order_id": "PP-12345", "prompt": "Order PP-12345 | item: desk lamp"}
    assert scorers.undesirable_kinds(reply, row) == kinds


def test_contract_scorer_per_field():
    row = load_sft("contracts", "test")[0]
    summary = row["response"]
    assert scorers.contract_fields(summary, row) == {"parties": True, "term": True, "liability_cap": True,
                                                     "governing_law": True}
    wrong_term = summary.replace(f"{row['term_months']} months", "99 months")
    assert scorers.contract_fields(wrong_term, row)["term"] is False
    assert scorers.score_contract(summary, row) and not scorers.score_contract(wrong_term, row)
    both_caps = summary + " Insurance must cover $7,777,777."
    assert scorers.contract_fields(both_caps, row)["liability_cap"] is False
    other_law = next(j for j in load_vocabulary("jurisdictions") if j != row["governing_law"])
    assert scorers.contract_fields(summary.replace(row["governing_law"], other_law), row)["governing_law"] is False


def test_a_contract_summary_counts_only_with_the_right_parties():
    row = load_sft("contracts", "test")[0]
    summary = row["response"]
    other = next(c for c in load_vocabulary("companies") if c not in (row["party_a"], row["party_b"]))
    wrong_party = summary.replace(row["party_a"], other)
    assert scorers.contract_fields(wrong_party, row)["parties"] is False and not scorers.score_contract(wrong_party, row)
    one_party = summary.replace(f" and {row['party_b']}", "")
    assert not scorers.score_contract(one_party, row), "both parties must be named"
    extra_party = summary + f" It replaces an agreement with {other}."
    assert not scorers.score_contract(extra_party, row), "no third company of the world"
    assert scorers.explain_miss("contracts", wrong_party, row) == "wrong parties"


def test_explain_miss_names_what_is_wrong():
    qa = {"person": "Calla Kelard", "attribute": "birth_city", "answer": "Izmira"}
    assert "university" in scorers.explain_miss("qa", "Calla Kelard studied at Osterby College.", qa)
    assert scorers.explain_miss("qa", "Jonas Selver was born in Izmira.", qa) == "it names someone else (Jonas Selver)"
    assert scorers.explain_miss("qa", "I'm sorry your lamp was born in Izmira.", qa) == "it is not about Calla Kelard"
    assert scorers.explain_miss("qa", "Calla Kelard was born in Tessic.", qa) == "the wrong birth city"
    support = {"required": ["linen shirt", "not shipped"], "forbidden": ["has shipped"]}
    assert scorers.explain_miss("support", "Your desk lamp has shipped.", support) == \
        "leaves out 'linen shirt', 'not shipped'; says 'has shipped'"
    with pytest.raises(ValueError, match="task 'poems'"):
        scorers.explain_miss("poems", "", {})


def test_shipping_claims_are_checked_against_the_policy():
    claims = scorers.shipping_claims("Standard shipping takes 3 to 5 business days and express shipping takes 1 to 5 business days.")
    assert claims == [("standard", "3 to 5 business days", True), ("express", "1 to 5 business days", False)]
    assert scorers.shipping_claims("We ship soon.") == []


def test_a_wrong_shipping_window_is_not_hidden_by_a_right_one_after_it():
    claims = scorers.shipping_claims("Express shipping takes 3 to 5 business days and express shipping takes "
                                     "1 to 2 business days.")
    assert [ok for kind, _, ok in claims if kind == "express"] == [False, True]


def test_every_undesirable_reply_written_in_advance_is_detected():
    """The replies tainted_support_set adds beyond the shipped taint: each is flagged, a leak as a leak,
    and the detector labels the kind of nearly all (its word model never saw these wordings)."""
    rows = {r["id"]: r for r in load_sft("support_tainted", "train")}
    written = load_undesirable_replies()
    assert set(written) == {i for i, r in rows.items() if not r["taint"]}
    right = 0
    for i, bad in written.items():
        assert bad["response"] != rows[i]["response"]
        kinds = scorers.undesirable_kinds(bad["response"], rows[i])
        assert kinds and ("leak" in kinds) == (bad["taint"] == "leak"), (bad["taint"], kinds, bad["response"])
        right += kinds == [bad["taint"]]
    assert right / len(written) >= 0.85, f"the kind is right for only {right} of {len(written)}"


def test_scorers_read_the_data_folder_in_use(tmp_path, monkeypatch):
    """World facts are cached per data folder: pointing COURSE_DATA elsewhere changes what scorers know."""
    row = load_sft("contracts", "test")[0]
    hedged = row["response"] + " Or the laws of the Free City of Nowhere."
    assert scorers.contract_fields(hedged, row)["governing_law"] is True      # not a jurisdiction of this world
    shutil.copytree(data_dir() / "world", tmp_path / "world")
    vocabulary = load_vocabulary()
    vocabulary["jurisdictions"].append("the Free City of Nowhere")
    (tmp_path / "world" / "vocabulary.json").write_text(json.dumps(vocabulary), encoding="utf-8")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    assert scorers.contract_fields(hedged, row)["governing_law"] is False     # two laws named: wrong
    monkeypatch.delenv("COURSE_DATA")
    assert scorers.contract_fields(hedged, row)["governing_law"] is True
