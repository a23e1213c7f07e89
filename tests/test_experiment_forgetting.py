"""experiments/forgetting_frontier.py runs end to end at a toy size, keeps other points, and runs notebook 04's recipe."""
import json

import nbformat
import pytest

from course_utils.env import REPO_ROOT
from course_utils.forgetting import SUPPORT_RUN
from experiments import forgetting_frontier as frontier


def test_the_frontier_records_every_point_and_keeps_the_others(tmp_path):
    out = tmp_path / "record.json"
    frontier.main(["--tiny", "--seeds", "0", "--methods", "LoRA r=4", "--out", str(out)])
    frontier.main(["--tiny", "--seeds", "1", "--methods", "LoRA r=4", "replay", "--out", str(out)])
    record = json.loads(out.read_text())
    assert [(p["method"], p["seed"]) for p in record["points"]] == [("LoRA r=4", 0), ("LoRA r=4", 1), ("replay", 1)]
    lora = record["points"][0]
    assert lora["trainable"] < 100_000 and lora["lr"] == frontier.TINY["grid"]["LoRA r=4"][1][0]
    for point in record["points"]:
        assert set(point["halves"]) == {"replayed half", "other half"}
        assert all(0.0 <= point[k] <= 1.0 for k in ("facts", "choice", "support")) and point["perplexity"] > 1
    assert record["settings"]["recipe"]["max_steps"] == frontier.TINY["max_steps"]


def test_the_frontier_refuses_to_mix_recipes_in_one_record(tmp_path):
    out = tmp_path / "record.json"
    out.write_text(json.dumps({"points": [], "settings": {"recipe": {"max_steps": 1}}}))
    with pytest.raises(SystemExit, match="another recipe"):
        frontier.main(["--tiny", "--out", str(out)])


def test_the_record_holds_notebook_04s_live_points_at_its_recipe():
    record = json.loads(frontier.RECORD.read_text())
    assert record["settings"]["recipe"]["max_steps"] == SUPPORT_RUN.max_steps
    assert record["settings"]["recipe"]["lr"] == SUPPORT_RUN.lr and record["settings"]["recipe"]["batch_size"] == 8
    seeds = {(p["method"], p["value"]): set() for p in record["points"]}
    for p in record["points"]:
        seeds[(p["method"], p["value"])].add(p["seed"])
    for method, (_, values) in frontier.GRID.items():
        for value in values:
            assert seeds.get((method, value), set()) >= {0, 1, 2}, f"{method} at {value}: fewer than 3 seeds recorded"
    source = "\n".join(c.source for c in nbformat.read(REPO_ROOT / "notebooks" / "04_forgetting.ipynb", 4).cells)
    assert "forgetting_frontier.json" in source
    assert f"replay_share={frontier.LIVE_REPLAY_SHARE}" in source
