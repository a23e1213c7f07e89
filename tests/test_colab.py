"""Every notebook starts with the shared set-up cell; every README badge and link points at a notebook."""
import re

import nbformat
import pytest

from tools.colab import (MAP_HEADING, NOTEBOOKS, REPO_SLUG, SETUP_CELL, TABLE_END, TABLE_START, course_map_table,
                         learning_path_table)
from course_utils.env import REPO_ROOT

ALL_NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb")) + sorted((REPO_ROOT / "notebooks" / "exercises").glob("*.ipynb"))
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_first_cell_is_the_shared_setup_cell(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "code" and first.source == SETUP_CELL, \
        f"{path.name}: run `python -m tools.colab` to write the shared set-up cell"


def test_setup_cell_does_nothing_outside_colab(tmp_path, monkeypatch):
    import sys
    monkeypatch.chdir(tmp_path)                      # no ../course_utils here, and not on Colab
    before = list(sys.path)
    exec(SETUP_CELL, {})
    assert sys.path == before


def test_every_notebook_is_in_the_learning_path():
    listed = {stem for stem, _, _ in NOTEBOOKS}
    assert listed == {p.stem for p in (REPO_ROOT / "notebooks").glob("*.ipynb")}


def test_readme_table_is_current_and_every_link_exists():
    block = README[README.index(TABLE_START) + len(TABLE_START): README.index(TABLE_END)].strip()
    assert block == learning_path_table(), "run `python -m tools.colab` to refresh the README table"
    badges = re.findall(r"\(https://colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/([^)]+)\)", README)
    assert len(badges) >= len(NOTEBOOKS) + 1
    for slug, _branch, path in badges:
        assert slug == REPO_SLUG, f"badge for {path} points at {slug}, not {REPO_SLUG}"
        assert (REPO_ROOT / path).exists(), f"badge points at a missing notebook: {path}"
    for link in re.findall(r"\]\((notebooks/[^)]+\.ipynb)\)", README):
        assert (REPO_ROOT / link).exists(), f"README links a missing notebook: {link}"


def test_notebook_00s_course_map_is_the_learning_path():
    start = nbformat.read(REPO_ROOT / "notebooks" / "00_start_here.ipynb", as_version=4)
    cell = next(c.source for c in start.cells if c.cell_type == "markdown" and MAP_HEADING in c.source)
    assert cell.endswith(course_map_table()), "run `python -m tools.colab` to refresh notebook 00's course map"
