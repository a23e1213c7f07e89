"""Loading through `datasets`, and bad SFT rows rejected with the row named."""
import json

import datasets
import pytest

from course_utils import data
from course_utils.encode import encode_sft


def test_sft_sets_load_as_datasets():
    qa = data.load_sft("qa")
    assert isinstance(qa, datasets.DatasetDict)
    assert set(qa) == {"train", "validation", "test_phrasings", "test_people"}
    train = data.load_sft("contracts", "train")
    assert isinstance(train, datasets.Dataset)
    assert {"id", "task", "split", "prompt", "response"} <= set(train.column_names)
    assert set(train["split"]) == {"train"} and set(train["task"]) == {"contracts"}
    assert isinstance(data.load_pretraining("single"), datasets.Dataset)
    assert len(data.load_eval("fact_probes")) > 1000


def test_unknown_names_are_reported():
    with pytest.raises(ValueError, match="unknown SFT task 'chat'"):
        data.load_sft("chat")
    with pytest.raises(ValueError, match="has no split 'dev'"):
        data.load_sft("qa", "dev")
    with pytest.raises(ValueError, match=r"unknown corpus 'web'; choose one of \['augmented', 'single', 'single_fullname'\]"):
        data.load_pretraining("web")
    with pytest.raises(ValueError, match=r"unknown evaluation set 'probes'; choose one of \['fact_probes', "
                                         r"'heldout_text', 'in_biography_probes', 'in_biography_probes_fullname'\]"):
        data.load_eval("probes")
    with pytest.raises(ValueError, match=r"unknown world table 'vocabulary'; choose one of \['people', 'places', "
                                         r"'shop_policy', 'unknown_people'\]"):
        data.load_world("vocabulary")     # a JSON document, not a table: load_vocabulary reads it
    with pytest.raises(ValueError, match=r"unknown vocabulary key 'cities'; choose one of \[.*'countries'"):
        data.load_vocabulary("cities")


def test_world_facts_load_from_the_shipped_files():
    vocabulary = data.load_vocabulary()
    assert vocabulary["attributes"] == ["birth_city", "birth_year", "university", "field", "employer"]
    assert set(vocabulary["values"]) == set(vocabulary["attributes"])
    people = data.load_world("people")
    assert all(p[a] in vocabulary["values"][a] for p in people for a in vocabulary["attributes"])
    assert data.load_vocabulary("qa_train_phrasings") == 6
    assert {p["country"] for p in data.load_world("places")} == set(vocabulary["countries"])
    assert set(vocabulary["countries"]) < set(vocabulary["jurisdictions"])
    probes = data.load_eval("in_biography_probes")
    assert len(probes) == len(people) * len(vocabulary["attributes"])
    replies = data.load_undesirable_replies()
    assert {r["taint"] for r in replies.values()} == set(vocabulary["taint_kinds"])
    assert all(i == r["id"] and i.startswith("support_tainted-") for i, r in replies.items())
    wordings = data.load_taint_wordings()
    assert {w["kind"] for w in wordings} == set(vocabulary["taint_kinds"])
    assert data.load_taint_wordings("detector") == [w for w in wordings if w["pool"] == "detector"]
    with pytest.raises(ValueError, match="pool='held_out'"):
        data.load_taint_wordings("held_out")


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_row_missing_its_response_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    write_rows(path, [{"id": "a", "prompt": "Q?", "response": "A."}, {"id": "b", "prompt": "Q2?"}])
    with pytest.raises(ValueError, match=r"line 2 \(id='b'\): missing 'response'"):
        data.validate_sft_file(path)


def test_row_with_empty_response_or_bad_json_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    write_rows(path, [{"id": "a", "prompt": "Q?", "response": "  "}])
    with pytest.raises(ValueError, match=r"line 1 \(id='a'\): empty 'response'"):
        data.validate_sft_file(path)
    path.write_text('{"id": "a", "prompt": "Q?", "response": "A."}\n{oops\n')
    with pytest.raises(ValueError, match="line 2: not valid JSON"):
        data.validate_sft_file(path)


def test_encode_sft_names_the_row_that_is_too_long(tokenizer):
    ds = datasets.Dataset.from_list([{"id": "ok", "prompt": "Q?", "response": "A."},
                                     {"id": "long-one", "prompt": "word " * 400, "response": "A."}])
    with pytest.raises(ValueError, match="row id='long-one'.*longer than max_length=320"):
        encode_sft(ds, tokenizer)
    enc = encode_sft(ds.select([0]), tokenizer)
    assert enc[0]["length"] == len(enc[0]["input_ids"]) == len(enc[0]["response_mask"])
    assert tokenizer.decode(enc[0]["input_ids"]).startswith(data.format_prompt("Q?"))
