"""The recorded experiments (experiments/*.py) run end to end at a toy size and measure what the notebook runs."""
import json
import re

import nbformat
import pytest

from course_utils.env import REPO_ROOT
from experiments import contract_seeds


def test_contract_seeds_records_every_point_and_keeps_the_others(tmp_path):
    out = tmp_path / "record.json"
    contract_seeds.main(["--tiny", "--seeds", "0", "--precisions", "float32", "--out", str(out)])
    contract_seeds.main(["--tiny", "--seeds", "1", "--precisions", "float32", "--out", str(out)])
    record = json.loads(out.read_text())
    assert [(p["seed"], p["precision"]) for p in record["points"]] == [(0, "float32"), (1, "float32")]
    assert record["settings"]["recipe"] == contract_seeds.TINY["recipe"]
    for point in record["points"]:
        assert set(point["scores"]) == {"parties", "term", "liability_cap", "governing_law", "all four"}
        assert all(0.0 <= v <= 1.0 for v in point["scores"].values())


def test_contract_seeds_refuses_to_mix_recipes_in_one_record(tmp_path):
    out = tmp_path / "record.json"
    out.write_text(json.dumps({"points": [], "settings": {"recipe": {"max_steps": 1}}}))
    try:
        contract_seeds.main(["--tiny", "--out", str(out)])
    except SystemExit as stop:
        assert "another recipe" in str(stop)
    else:
        raise AssertionError("a record of another recipe should not be extended")


def test_contract_seeds_runs_notebook_03s_recipe():
    source = "\n".join(c.source for c in nbformat.read(REPO_ROOT / "notebooks" / "03_finetune_gpt2.ipynb", 4).cells)
    mix = re.search(r"^MIX = (\{.*?\})", source, re.M).group(1)
    assert eval(mix) == contract_seeds.MIX
    run = re.search(r"run_config = TrainConfig\(max_steps=(\d+), batch_size=(\d+), lr=([\d.e-]+),", source)
    assert dict(max_steps=int(run[1]), batch_size=int(run[2]), lr=float(run[3])) == contract_seeds.RECIPE
    assert "select(range(150))" in source and contract_seeds.TEST_CONTRACTS == 150


def test_taint_seeds_records_every_setting_and_the_filter_per_seed(tmp_path):
    from experiments import taint_seeds
    out = tmp_path / "record.json"
    taint_seeds.main(["--tiny", "--seeds", "0", "--out", str(out)])
    taint_seeds.main(["--tiny", "--seeds", "1", "--out", str(out)])
    record = json.loads(out.read_text())
    assert record["settings"]["size"] == json.loads(json.dumps(taint_seeds.TINY))
    assert sorted((p["setting"], p["seed"]) for p in record["points"]) == sorted(
        (s, seed) for s in ("0%", "5%", "15%", "15% filtered") for seed in (0, 1))
    for point in record["points"]:
        assert 0.0 <= point["rate"] <= 1.0 and point["replies"] == taint_seeds.TINY["held_out"]
        assert point["bad_replies"] == round(point["rate"] * point["replies"])
    assert [f["seed"] for f in record["filters"]] == [0, 1]
    for f in record["filters"]:
        for scorer in ("self", "reference"):
            assert set(f[scorer]["train"]) == {"rule", "loss", "rule or loss"}
            assert f[scorer]["kept"] == taint_seeds.TINY["rows"] - f[scorer]["train"]["rule or loss"]["flagged"]
    try:
        taint_seeds.main(["--out", str(out), "--seeds", "2"])
    except SystemExit as stop:
        assert "another size" in str(stop)
    else:
        raise AssertionError("a record of another size should not be extended")


def test_taint_seeds_runs_notebook_06s_pipeline():
    """The notebook calls the same functions with the same sizes, so its live point is one of the record's."""
    from experiments import taint_seeds
    source = "\n".join(c.source for c in nbformat.read(REPO_ROOT / "notebooks" / "06_data_quality.ipynb", 4).cells)
    assert f'sample_rows("support", "test", {taint_seeds.HELD_OUT})' in source
    assert f"samples={taint_seeds.SAMPLES}" in source
    for call in ("fine_tune_support(", "filter_support(", "tainted_support_set(0.15)"):
        assert call in source, call


def test_qa_generalization_records_every_part_and_keeps_the_others(tmp_path):
    from experiments import qa_generalization as qg
    out = tmp_path / "record.json"
    qg.main(["--tiny", "--parts", "size", "wordings", "--out", str(out)])
    qg.main(["--tiny", "--parts", "polm", "--out", str(out)])
    record = json.loads(out.read_text())
    tiny = qg.TINY
    by_part = {}
    for p in record["points"]:
        by_part.setdefault(p["part"], []).append(p)
    assert len(by_part["size"]) == 2 * len(tiny["sizes"]) * len(tiny["seeds"]), "both schedules, every size and seed"
    for p in by_part["size"]:
        if p["schedule"] == "steps":
            assert p["steps"] == tiny["run"]["max_steps"]
        else:                       # equal epochs: every example seen `epochs` times, the steps follow
            assert p["examples_seen"] == tiny["epochs"] * p["n"] and p["epochs"] == tiny["epochs"]
        assert set(p["scores"]) == {"seen people, seen wording", "seen people, new wording", "new people"}
    ones = [p for p in by_part["wordings"] if p["wordings"] == 1]
    assert ones and all(p["trained_wordings"] == [0] for p in ones), "one wording trains on wording 0 only"
    assert all(len(p["per_wording"]) == 8 for p in by_part["wordings"])
    assert {p["base"] for p in by_part["stored"]} == set(qg.BASES)
    assert {(p["base"], p["seed"]) for p in by_part["polm"]} == {(b, s) for b in qg.BASES for s in tiny["seeds"]}
    assert all(0 <= p[k]["score"] <= p[k]["value_only"] <= 1 for p in by_part["polm"] for k in ("seen", "heldout"))
    assert set(record["parts_written"]) == {"size", "wordings", "polm"}


def test_qa_generalization_refuses_to_mix_settings_in_one_record(tmp_path):
    from experiments import qa_generalization as qg
    out = tmp_path / "record.json"
    out.write_text(json.dumps({"points": [], "settings": dict(qg.TINY, epochs=3.0)}))
    with pytest.raises(SystemExit, match="other settings"):
        qg.main(["--tiny", "--parts", "size", "--out", str(out)])


def test_qa_generalization_pretrains_another_seed_outside_data(tmp_path):
    from experiments import qa_generalization as qg
    out = tmp_path / "record.json"
    before = sorted(p.name for p in (REPO_ROOT / "data" / "models").iterdir())
    qg.main(["--tiny", "--parts", "pretrain_seed", "--out", str(out)])
    assert sorted(p.name for p in (REPO_ROOT / "data" / "models").iterdir()) == before, "nothing new is shipped"
    stored = [p for p in json.loads(out.read_text())["points"] if p["part"] == "stored"]
    assert [p["pretrain_seed"] for p in stored] == [qg.TINY["pretrain"]["seed"]]
    assert stored[0]["pretraining"]["steps"] == qg.TINY["pretrain"]["steps"]


def test_chat_tokens_records_every_setting_at_the_lora_rate_it_picked(tmp_path):
    from course_utils import chat_tokens as ct
    from experiments import chat_tokens
    out = tmp_path / "record.json"
    chat_tokens.main(["--tiny", "--part", "lora_lr", "--seeds", "0", "--out", str(out)])
    chat_tokens.main(["--tiny", "--part", "settings", "--seeds", "0", "1", "--out", str(out)])
    record = json.loads(out.read_text())
    lr_points = [p for p in record["points"] if p["part"] == "lora_lr"]
    assert sorted(p["lr"] for p in lr_points) == chat_tokens.TINY["lora_lrs"]
    best = max(lr_points, key=lambda p: p["score"])["lr"]
    settings = [p for p in record["points"] if p["part"] == "settings"]
    assert sorted((p["setting"], p["seed"]) for p in settings) == sorted((s, seed) for s in ct.SETTINGS for seed in (0, 1))
    for p in settings:
        assert 0.0 <= p["score"] <= 1.0 and 0.0 <= p["stop_share"] <= 1.0
        assert p["score"] <= p["value_score"] and 0.0 <= p["first_sentence_score"] <= 1.0
        assert abs(sum(p["stopped_by"].values()) - p["stop_share"]) < 1e-9
        assert set(p["stopped_by"]) == ({"EOS"} if p["setting"] == "course template" else {"EOS", "<|end|>"})
        assert p["lr"] == (best if p["setting"].startswith("LoRA") else chat_tokens.TINY["recipe"]["lr"])
        if p["setting"] != "course template":
            assert p["input_row_change"] >= 0.0 and p["output_row_change"] >= 0.0
        if p["setting"] == "chat tokens":
            assert set(p["mismatch"]) == {"score", "value_score", "first_sentence_score", "stop_share", "stopped_by"}
            assert set(p["decoding"]) == {name for name, options in ct.DECODING.items() if options}
            assert all(len(runs) == len(chat_tokens.TINY["sampling_seeds"]) for runs in p["decoding"].values())
    for untrained in ("LoRA, new rows untrained", ct.RANDOM_INIT):
        assert [p["input_row_change"] for p in settings if p["setting"] == untrained] == [0.0, 0.0]
    chat_tokens.main(["--tiny", "--part", "full_lr", "--seeds", "0", "--out", str(out)])
    full = [p for p in json.loads(out.read_text())["points"] if p["part"] == "full_lr"]
    assert sorted((p["setting"], p["lr"]) for p in full) == sorted(
        (s, lr) for s in chat_tokens.FULL_LR_SETTINGS for lr in chat_tokens.TINY["full_lrs"])
    try:
        chat_tokens.main(["--out", str(out), "--part", "settings", "--seeds", "2"])
    except SystemExit as stop:
        assert "another configuration" in str(stop)
    else:
        raise AssertionError("a record of another configuration should not be extended")


def test_chat_tokens_runs_notebook_07s_live_point():
    """Notebook 07 trains the record's setup with the record's data and recipe, so its live point is one of the record's."""
    from course_utils import chat_tokens as ct
    from experiments import chat_tokens
    source = "\n".join(c.source for c in nbformat.read(REPO_ROOT / "notebooks" / "07_from_scratch_to_trl.ipynb", 4).cells)
    assert "qa_train, qa_test = ct.qa_sets()" in source
    assert 'ct.train_setting("chat tokens", 0, qa_train, base_model, tok)' in source
    settings = json.loads(chat_tokens.RECORD.read_text())["settings"]
    assert settings["config"] == json.loads(json.dumps(chat_tokens.FULL))
    assert settings["config"]["recipe"] == ct.RECIPE and settings["config"]["size"] == ct.SIZE
