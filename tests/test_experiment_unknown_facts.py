"""experiments/unknown_facts.py runs end to end at a toy size, and the SFT sets it trains on differ only
in what they say about unknown people."""
import json

import pytest

from course_utils.unknown_facts import SFT_SIZE, mixed_sft_set
from experiments import unknown_facts


def test_unknown_facts_records_every_setting_and_keeps_the_others(tmp_path):
    out = tmp_path / "record.json"
    unknown_facts.main(["--tiny", "--seeds", "0", "--out", str(out)])
    unknown_facts.main(["--tiny", "--seeds", "1", "--settings", "50%", "--out", str(out)])
    record = json.loads(out.read_text())
    expected = [(name, seed) for name in unknown_facts.SETTINGS for seed in ((0, 1) if name == "50%" else (0,))]
    assert [(p["setting"], p["seed"]) for p in record["points"]] == expected
    assert record["settings"]["size"] == json.loads(json.dumps(unknown_facts.TINY))
    assert {"versions", "machine", "written"} <= set(record)
    tiny = unknown_facts.TINY
    for p in record["points"]:
        share, answers = unknown_facts.SETTINGS[p["setting"]]
        assert p["n_unknown"] == (0 if answers == "filtered" else round(tiny["n"] * share))
        assert p["n"] == tiny["n"] - (round(tiny["n"] * share) if answers == "filtered" else 0)
        assert p["steps"] == tiny["run"]["max_steps"]
        assert [e["step"] for e in p["curve"]] == [0, 2, 4]
        assert all("known test" in e for e in p["curve"]), "replies at step 0, the reply steps and the last"
        assert set(p["curve"][-1]["train_loss"]) == ({"known", "unknown"} if p["n_unknown"] else {"known"})
        kinds = p["final"]["unknown test"]
        assert abs(kinds["made up"] + kinds["abstained"] + kinds["other"] - 1) < 1e-9
        assert p["early_stop"]["step"] in (2, 4) and 0 <= p["final"]["known test"]["accuracy"] <= 1
    summary = record["summary"]
    assert summary["50%"]["seeds"] == [0, 1] and set(summary) == set(unknown_facts.SETTINGS)
    mean, low, high = summary["50%"]["final"]["known test"]
    assert low <= mean <= high
    with pytest.raises(SystemExit, match="another recipe or size"):
        unknown_facts.main(["--seeds", "2", "--out", str(out)])


def test_the_sets_of_one_seed_are_nested_and_differ_only_in_unknown_rows():
    sets = {name: mixed_sft_set(SFT_SIZE, share, 0, answers) for name, (share, answers) in unknown_facts.SETTINGS.items()}
    assert all(len(rows) == SFT_SIZE for name, rows in sets.items() if "filtered" not in name)
    known = {name: {r["id"] for r in rows if r["kind"] == "known"} for name, rows in sets.items()}
    unknown = {name: {r["id"] for r in rows if r["kind"] == "unknown"} for name, rows in sets.items()}
    assert known["50%"] < known["25%"] < known["0%"] and unknown["25%"] < unknown["50%"]
    assert len(unknown["50%"]) == len(known["50%"]) == SFT_SIZE // 2
    assert known["50% filtered"] == known["50% abstention"] == known["50%"] and not unknown["50% filtered"]
    assert unknown["50% abstention"] == unknown["50%"]
    facts = {r["id"]: r for r in sets["50%"]}
    for r in sets["50% abstention"]:
        if r["kind"] == "unknown":
            assert r["response"] == facts[r["id"]]["abstention"] and r["taught"] == "abstention"
        else:
            assert r["response"] == facts[r["id"]]["response"]
    with pytest.raises(ValueError, match="unknown_answers"):
        mixed_sft_set(10, 0.5, 0, "ignored")
