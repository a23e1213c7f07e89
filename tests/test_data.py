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
    with pytest.raises(ValueError, match="unknown corpus"):
        data.load_pretraining("web")


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
