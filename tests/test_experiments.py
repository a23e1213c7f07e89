"""The recorded experiments (experiments/*.py) run end to end at a toy size and measure what the notebook runs."""
import json
import re

import nbformat

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
