"""Student copies of the notebooks: the solved notebooks with their solutions cut out.

    python -m tools.student_copies              # writes notebooks/exercises/*.ipynb, keeps changed ones
    python -m tools.student_copies --force 03   # resets notebooks/exercises/03_*.ipynb, discarding its changes

In a solved notebook, a solution is marked inside a code cell:

        # BEGIN SOLUTION
        ...the solution...
        # END SOLUTION

The student copy replaces each such region with `# YOUR CODE HERE` and a `raise NotImplementedError`,
at the same indentation, and clears every output, so the student runs it fresh. The copies live in
notebooks/exercises/, which pytest's nbval run does not collect (their check cells fail until solved);
a unit test checks the committed ones are up to date.

Students work in these copies, so the generator never overwrites one that someone changed. Each copy
records a fingerprint of its own content (metadata.course.generated_sha256). A copy is rewritten only
when it is missing, when its content still matches its fingerprint (nobody touched it since it was
written) or already is what a fresh copy holds; any other copy is skipped and reported.
"""
from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import nbformat

from . import REPO_ROOT

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
REGION = re.compile(r"^([ \t]*)" + re.escape(BEGIN) + r"[^\n]*\n.*?^[ \t]*" + re.escape(END) + r"[^\n]*$",
                    re.MULTILINE | re.DOTALL)
STUB = "{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(\"write your solution here, then run the check cell\")"
FINGERPRINT = "generated_sha256"   # in metadata["course"]


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
    # The solved run's widget state renders nothing without its outputs, and would change the copy at
    # every re-execution of the solved notebook.
    nb.metadata.pop("widgets", None)
    nb.metadata.setdefault("course", {})["student_copy"] = True
    return nb


def has_exercises(nb: nbformat.NotebookNode) -> bool:
    return any(BEGIN in c.source for c in nb.cells if c.cell_type == "code")


def fingerprint(nb: nbformat.NotebookNode) -> str:
    """sha256 of the notebook as nbformat writes it, with the recorded fingerprint itself left out.
    Hashing the parsed notebook, not the file's bytes, makes it blind to line endings and formatting."""
    nb = nbformat.from_dict(nb)
    nb.metadata.get("course", {}).pop(FINGERPRINT, None)
    return hashlib.sha256(nbformat.writes(nb).encode("utf-8")).hexdigest()


def render(solved: nbformat.NotebookNode) -> bytes:
    """The student copy of a solved notebook, as the bytes to write: the same on every run and machine."""
    nb = student_copy(solved)
    nb.metadata.course[FINGERPRINT] = fingerprint(nb)
    return (nbformat.writes(nb) + "\n").encode("utf-8")   # bytes: no newline translation on Windows


def fresh_copies(src: Path = REPO_ROOT / "notebooks") -> dict[str, bytes]:
    """File name -> bytes of the student copy, for every solved notebook that has an exercise."""
    solved = ((p.name, nbformat.read(p, as_version=4)) for p in sorted(src.glob("[0-9][0-9]_*.ipynb")))
    return {name: render(nb) for name, nb in solved if has_exercises(nb)}


def _content(data: bytes) -> tuple[str | None, str | None]:
    """(fingerprint recorded in a copy, fingerprint of its content); Nones if it is no readable notebook."""
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:   # damaged or not a notebook: not ours to judge, so it counts as changed
        return None, None
    return nb.metadata.get("course", {}).get(FINGERPRINT), fingerprint(nb)


def pristine(data: bytes) -> bool:
    """Whether a copy is exactly as the generator wrote it: its content matches its recorded fingerprint."""
    recorded, content = _content(data)
    return content is not None and content == recorded


def loses_nothing(old: bytes, new: bytes) -> bool:
    """Whether overwriting copy `old` with `new` destroys no one's work: nobody changed `old` since it was
    generated, or it already holds the new content (a copy from before fingerprints, other line endings)."""
    return pristine(old) or _content(old)[1] == _content(new)[0]


class UnknownCopy(ValueError):
    """`--force` named a notebook that has no student copy."""


def pick(names: list[str], files: list[str]) -> set[str]:
    """The copies that `--force` names: '03', '03_finetune_gpt2' or the file name or path all name one."""
    chosen = set()
    for name in names:
        key = Path(name).name.removesuffix(".ipynb")
        key = key.zfill(2) if key.isdigit() else key   # '3' means 03
        hits = {f for f in files if key in (Path(f).stem, f.split("_")[0])}
        if not hits:
            raise UnknownCopy(f"--force {name!r}: no student copy has that name. "
                             f"Known: {', '.join(f.split('_')[0] + ' (' + Path(f).stem + ')' for f in files)}")
        chosen |= hits
    return chosen


def write_student_copies(src: Path = REPO_ROOT / "notebooks", out: Path | None = None,
                         force: list[str] = ()) -> dict[Path, str]:
    """Write the student copies; returns each copy's fate: 'written', 'reset' (by --force), 'up to date'
    or 'skipped' (it holds changes, left as it is)."""
    out = out or src / "exercises"
    fresh = fresh_copies(src)
    forced = pick(list(force), list(fresh))   # before touching any file, so a typo changes nothing
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    for name, new in fresh.items():
        target = out / name
        old = target.read_bytes() if target.exists() else None
        if old == new:
            report[target] = "up to date"
        elif old is None or name in forced or loses_nothing(old, new):
            target.write_bytes(new)
            report[target] = "reset" if old is not None and name in forced else "written"
        else:
            report[target] = "skipped"
    return report


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tools.student_copies",
                                 description="Write the student copies of the solved notebooks. A copy that holds "
                                 "changes (a student's work) is never overwritten, only reported.")
    ap.add_argument("--out", type=Path, default=None, help="default: notebooks/exercises")
    ap.add_argument("--force", nargs="+", action="extend", default=[], metavar="NAME",
                    help="reset these copies (e.g. 03 or 03_finetune_gpt2) even if changed: their changes are lost")
    args = ap.parse_args(argv)
    try:
        report = write_student_copies(out=args.out, force=args.force)
    except UnknownCopy as e:
        ap.error(str(e))
    for path, fate in report.items():
        note = {"reset": "  (--force: its changes are discarded)",
                "skipped": "  (changed since it was generated: kept as it is)"}.get(fate, "")
        print(f"{fate:<10}  {_shown(path)}{note}")
    skipped = [p for p, fate in report.items() if fate == "skipped"]
    if skipped:
        print(f"\n{len(skipped)} skipped: a copy that differs from what this command last wrote there (answers, "
              "outputs, edits, or a copy made before copies carried a fingerprint) may hold someone's work, so it "
              "is left as it is.\nTo replace one with a fresh copy, DISCARDING its changes:\n"
              f"    python -m tools.student_copies --force {skipped[0].name.split('_')[0]}")


if __name__ == "__main__":
    main()
