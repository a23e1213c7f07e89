"""experiments/reasoning_traces.py runs end to end at a toy size and keeps the record's other points."""
import json

import pytest

from experiments import reasoning_traces


def test_reasoning_traces_records_every_kind_and_setting_and_keeps_the_others(tmp_path):
    out = tmp_path / "record.json"
    reasoning_traces.main(["--tiny", "--seeds", "0", "--kinds", "even_year", "inverse", "--out", str(out)])
    reasoning_traces.main(["--tiny", "--seeds", "1", "--kinds", "even_year", "--settings", "trace", "--out", str(out)])
    record = json.loads(out.read_text())
    n = reasoning_traces.TINY["per_kind"]
    expected = [("even_year", s, 0) for s in reasoning_traces.SETTINGS]
    expected.insert(2, ("even_year", "trace", 1))
    expected += [("inverse", "answer", 0), ("inverse", "trace", 0)]     # no answer step to isolate or sample
    assert [(p["kind"], p["setting"], p["seed"]) for p in record["points"]] == expected
    assert record["settings"]["size"] == json.loads(json.dumps(reasoning_traces.TINY))
    assert {"versions", "machine", "written"} <= set(record)
    for p in record["points"]:
        assert p["steps"] == reasoning_traces.TINY["run"]["max_steps"]
        assert set(p["sets"]["test"]) == {p["kind"]}       # one kind per model
        if p["setting"].startswith("self"):     # trained on what the verifier kept of the trace model's samples
            assert p["questions"] == n and p["n_train"] == p["filter"]["kept_rows"] >= 1     # every question sampled
            assert p["filter"]["samples"] == n * reasoning_traces.TINY["samples"]["k"]
        elif p["setting"] == "trace_quarter":     # the weaker start: a quarter of the questions
            assert p["n_train"] == n // 4
        else:
            assert p["n_train"] == n
        assert ("test | true facts given" in p["sets"]) is (p["setting"] != "answer" and p["kind"] != "inverse")
        for kinds in p["sets"].values():
            assert all(0 <= v["accuracy"] <= 1 and 0 <= v["chance"] <= 1 for v in kinds.values())
        assert set(p["retrieval_after"]) == {"completion", "choice"}
    with pytest.raises(SystemExit, match="another recipe or size"):
        reasoning_traces.main(["--seeds", "2", "--out", str(out)])
