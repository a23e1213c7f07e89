"""Student copies of the notebooks: the solved notebooks with their solutions cut out.

    python -m course_utils.exercises            # writes notebooks/exercises/*.ipynb

In a solved notebook, a solution is marked inside a code cell:

        # BEGIN SOLUTION
        ...the solution...
        # END SOLUTION

The student copy replaces each such region with `# YOUR CODE HERE` and a `raise NotImplementedError`,
at the same indentation, and clears every output, so the student runs it fresh. The copies live in
notebooks/exercises/, which pytest's nbval run does not collect (their check cells fail until solved);
a unit test checks they are up to date.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

from .env import REPO_ROOT

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
REGION = re.compile(r"^([ \t]*)" + re.escape(BEGIN) + r"[^\n]*\n.*?^[ \t]*" + re.escape(END) + r"[^\n]*$",
                    re.MULTILINE | re.DOTALL)
STUB = "{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(\"write your solution here, then run the check cell\")"


def strip_solutions(source: str) -> str:
    if source.count(BEGIN) != source.count(END):
        raise ValueError(f"unbalanced {BEGIN!r}/{END!r} markers in cell:\n{source[:200]}")
    return REGION.sub(lambda m: STUB.format(indent=m.group(1)), source)


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)   # a deep copy
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source = strip_solutions(cell.source)
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.setdefault("course", {})["student_copy"] = True
    return nb


def has_exercises(nb: nbformat.NotebookNode) -> bool:
    return any(BEGIN in c.source for c in nb.cells if c.cell_type == "code")


def write_student_copies(src: Path = REPO_ROOT / "notebooks", out: Path | None = None) -> list[Path]:
    out = out or src / "exercises"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not has_exercises(nb):
            continue
        target = out / path.name
        nbformat.write(student_copy(nb), target)
        written.append(target)
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Write the student copies of the solved notebooks.")
    ap.add_argument("--out", type=Path, default=None, help="default: notebooks/exercises")
    args = ap.parse_args(argv)
    for path in write_student_copies(out=args.out):
        print(path)


if __name__ == "__main__":
    main()
