"""Colab and self-study plumbing, all built from one constant: where the course lives on GitHub.

- `SETUP_CELL`: the first cell of every notebook. On Colab it clones the course and puts it on the
  path (an editable install made in a running Colab kernel is not importable, a plain path is) and
  installs `datasets` and transformers 5.2 or newer if the image lacks them; everywhere else it only
  makes `course_utils` importable from a clone that was not pip-installed.
- the README's learning-path table with an "Open in Colab" badge per notebook (solved and student copy),
  and notebook 00's course map, the same table without the links.

    python -m tools.colab      # rewrite every notebook's first cell and the README table

Publishing the course under another name means changing REPO_SLUG and running the command above; a
test checks that every notebook starts with this cell and every badge points at an existing notebook.
"""
from __future__ import annotations

import argparse
import re

import nbformat

from . import REPO_ROOT

REPO_SLUG = "sft-workbook/sft-workbook"      # github.com/<owner>/<name>
BRANCH = "main"
REPO_URL = f"https://github.com/{REPO_SLUG}"
CLONE_DIR = "/content/sft-workbook"

SETUP_CELL = f'''# Course set-up: the same first cell in every notebook. On Colab it fetches the course and puts it on
# the path (an editable install is not importable in a running kernel); elsewhere it only makes sure
# `course_utils` is importable when the notebook runs from a clone without an install.
import importlib.metadata, importlib.util, os, subprocess, sys
if "google.colab" in sys.modules:
    if not os.path.isdir("{CLONE_DIR}"):
        subprocess.run(["git", "clone", "-q", "--depth=1", "--branch={BRANCH}", "{REPO_URL}",
                        "{CLONE_DIR}"], check=True)
    old_transformers = tuple(int(x) for x in importlib.metadata.version("transformers").split(".")[:2]) < (5, 2)
    if importlib.util.find_spec("datasets") is None or old_transformers:     # before anything imports them
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "datasets>=4.7", "transformers>=5.2"], check=True)
for root in ("{CLONE_DIR}", ".."):
    if os.path.isdir(os.path.join(root, "course_utils")) and os.path.abspath(root) not in sys.path:
        sys.path.insert(0, os.path.abspath(root))'''

# What each notebook teaches and how long `pytest --nbval` takes on it: minutes on a 2-core AMD EPYC without
# bf16 matrix units, float32, two notebooks at a time with one thread each (see README).
NOTEBOOKS = [
    ("00_start_here", "set-up check; the base model knows the facts but does not answer questions; the course map, how quizzes, hints and check cells work", "0.1"),
    ("01_pretraining_vs_sft_data", "raw text vs prompt/response pairs, sizes, lengths, which tokens carry loss; "
     "a base model does not follow instructions; loss tokens shown as coloured text", "0.2"),
    ("02_masked_mle_loss", "the SFT objective written by hand and checked; eight practical traps, each measured; padding when pad = EOS and the mask of a multi-turn conversation, both written by hand", "0.5"),
    ("03_finetune_gpt2", "the SFT training loop and what makes it fast; mixed batches without padding; an "
     "instruction mix; overfitting told from a lower training loss; a new task (contract summaries) vs "
     "prompting, its spread over seeds, and why never-seen values fail (a copy test); save, reload; a LoRA "
     "adapter saved, reloaded and merged; multi-turn conversations through the chat template, and a chat; scale-up to GPT-2 124M; gradient accumulation by the step's token count, written by hand", "4.8"),
    ("04_forgetting", "forgetting measured during support SFT, by what the model writes and by what it ranks "
     "first; replay measured on the half of the world it rehearsed and on the half it did not; full "
     "fine-tuning, freezing, LoRA, replay and fewer steps as frontiers over settings and three seeds; a rule that picks a setting by its worst seed", "2.5"),
    ("05_generalization", "new wordings, new people, other tasks; size curves at equal steps and at equal epochs, "
     "diversity per wording (recorded, three seeds, points re-run live); the Physics-of-LMs 3.1 experiment in "
     "miniature with three base models, seen vs held-out people; a verdict over seeds written by hand, and how often it errs; facts the base model "
     "never read: fitted later, what they do to known facts beside a filtered control, made-up answers and "
     "\"I don't know\" SFT (recorded, three seeds, one point re-run live)", "1.8"),
    ("06_data_quality", "a few bad examples teach bad replies (three seeds); a detector checked on wordings it "
     "never saw; filtering by rules and a reference model's loss, the cut-off chosen on validation; what SFT "
     "cannot fix; a filter written from the training data, scored on wordings it never saw", "2.3"),
    ("07_from_scratch_to_trl", "the same SFT with TRL's SFTTrainer on chat data: the same loss on the same batch, "
     "the same loss curve on the same order, what the batch order alone moves over three seeds; packed rows, "
     "prompt-completion rows, rows without targets and templates without markers as the installed TRL treats "
     "them; a packed row and its attention rule written by hand; each SFTConfig option mapped to the course, TRL's defaults that differ; chat tokens of its own "
     "(added tokens, resized tied embeddings, stopping at end of turn) and their pitfalls measured over three "
     "seeds: end of turn out of the loss, new rows under LoRA, a template mismatch; greedy vs sampled decoding", "1.5"),    ("08_reasoning_traces", "SFT on worked solutions: questions that need two stored facts, answer-only vs trace SFT "
     "one kind per model over three seeds, with retrieval as the ceiling and the answer step measured on true facts; "
     "the loss on the answer alone; a self-generated round (rejection sampling with a verifier written by hand, "
     "what it lets through); the inverse lookup, which traces do not fix (recorded, one point re-run live)", "2.0"),
]
TABLE_START, TABLE_END = "<!-- learning-path:start -->", "<!-- learning-path:end -->"
MAP_HEADING = "## The course map"         # notebook 00's cell that shows the same table, without the links


def colab_url(path: str) -> str:
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{BRANCH}/{path}"


def badge(path: str) -> str:
    return f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


def learning_path_table() -> str:
    rows = ["| notebook | what you learn | CPU min | solved | student copy |", "|---|---|---|---|---|"]
    for stem, what, minutes in NOTEBOOKS:
        solved = f"notebooks/{stem}.ipynb"
        student = f"notebooks/exercises/{stem}.ipynb"
        copy = (f"[exercises/{stem[:2]}]({student}) {badge(student)}" if (REPO_ROOT / student).exists()
                else "(no exercise)")
        rows.append(f"| {stem[:2]} {stem[3:].replace('_', ' ')} | {what} | {minutes} | "
                    f"[{stem}]({solved}) {badge(solved)} | {copy} |")
    return "\n".join(rows)


def course_map_table() -> str:
    """Notebook 00's course map: what each notebook teaches and its minutes, from the same NOTEBOOKS."""
    rows = ["| notebook | what you learn | minutes on a 2-core CPU |", "|---|---|---|"]
    rows += [f"| {stem[:2]} {stem[3:].replace('_', ' ')} | {what} | {minutes} |" for stem, what, minutes in NOTEBOOKS]
    return "\n".join(rows)


def write_course_map() -> bool:
    """Put `course_map_table()` under notebook 00's course-map heading (the table ends its cell)."""
    path = REPO_ROOT / "notebooks" / "00_start_here.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and MAP_HEADING in c.source)
    head = cell.source[: cell.source.index(MAP_HEADING) + len(MAP_HEADING)]
    source = f"{head}\n\n{course_map_table()}"
    if cell.source == source:
        return False
    cell.source = source
    nbformat.write(nb, path)
    return True


def write_setup_cells() -> list[str]:
    changed = []
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if nb.cells[0].cell_type == "code" and nb.cells[0].source != SETUP_CELL:
            nb.cells[0].source = SETUP_CELL
            nbformat.write(nb, path)
            changed.append(path.name)
    return changed


def write_readme_table() -> None:
    readme = REPO_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    block = f"{TABLE_START}\n{learning_path_table()}\n{TABLE_END}"
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"README.md has no {TABLE_START} ... {TABLE_END} block to fill")
    readme.write_text(pattern.sub(lambda _: block, text), encoding="utf-8")


def main(argv=None) -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args(argv)
    print("set-up cell rewritten in:", write_setup_cells() or "none (all up to date)")
    write_readme_table()
    print("README learning-path table rewritten")
    print("notebook 00's course map", "rewritten" if write_course_map() else "up to date")


if __name__ == "__main__":
    main()
