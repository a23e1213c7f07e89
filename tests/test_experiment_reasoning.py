"""experiments/reasoning_traces.py runs end to end at a toy size and keeps the record's other points."""
import json

import pytest

from experiments import reasoning_traces


def test_reasoning_traces_records_every_setting_and_keeps_the_others(tmp_path):
    out = tmp_path / "record.json"
    reasoning_traces.main(["--tiny", "--seeds", "0", "--out", str(out)])
    reasoning_traces.main(["--tiny", "--seeds", "1", "--settings", "trace", "--out", str(out)])
    record = json.loads(out.read_text())
    expected = [(s, seed) for s in reasoning_traces.SETTINGS for seed in ((0, 1) if s == "trace" else (0,))]
    assert [(p["setting"], p["seed"]) for p in record["points"]] == expected
    assert record["settings"]["size"] == json.loads(json.dumps(reasoning_traces.TINY))
    assert {"versions", "machine", "written"} <= set(record)
    for p in record["points"]:
        assert p["steps"] == reasoning_traces.TINY["run"]["max_steps"]
        if p["setting"] == "self":     # trained on what the verifier kept of the trace model's samples
            assert p["questions"] == 4 * 4 and p["n_train"] == p["filter"]["kept_rows"] >= 1
            assert p["filter"]["samples"] == 4 * 4 * reasoning_traces.TINY["samples"]["k"]
        else:
            assert p["n_train"] == 4 * 4
        assert set(p["sets"]["test"]) == {"compare_year", "same_city", "even_year", "inverse"}
        assert set(p["sets"]["test_pairs"]) == {"compare_year", "same_city"}
        assert ("test | true facts given" in p["sets"]) is (p["setting"] != "answer")
        for kinds in p["sets"].values():
            assert all(0 <= v["accuracy"] <= 1 and 0 <= v["chance"] <= 1 for v in kinds.values())
        assert set(p["retrieval_after"]) == {"completion", "choice"}
    with pytest.raises(SystemExit, match="another recipe or size"):
        reasoning_traces.main(["--seeds", "2", "--out", str(out)])
