"""Student copies: the committed ones are up to date, every solution is cut out, every checker rejects the
stub, and regenerating never destroys a student's work."""
import shutil
import subprocess
from pathlib import Path
from unittest.mock import MagicMock

import nbformat
import pytest

from course_utils.checks import CheckFailed
from course_utils.env import REPO_ROOT
from tools import student_copies
from tools.student_copies import (BEGIN, FINGERPRINT, fresh_copies, loses_nothing, pristine, render, strip_solutions,
                                  write_student_copies)

COPIES = "notebooks/exercises"
REGENERATE = ("Course developers: run `python -m tools.student_copies` and commit notebooks/exercises/. "
              "That command never overwrites a copy you changed (it lists what it skipped), so it is safe "
              "for a student too.")


def _git(repo: Path, *args: str) -> bytes | None:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):   # no git, or not a repository
        return None


def committed_copies(repo: Path = REPO_ROOT) -> dict[str, bytes | None]:
    """File name -> bytes of each student copy as the course ships it: from the commit (HEAD) in a git
    checkout, since a student saves their answers into the working-tree files. Without git (a zip, an
    sdist) the files themselves; one that holds changes is someone's work, not a shipped copy, and maps
    to None: there is nothing to check it against."""
    top = _git(repo, "rev-parse", "--show-toplevel")
    if top is not None and Path(top.decode().strip()).resolve() == repo.resolve():
        listing = (_git(repo, "ls-tree", "-z", "--name-only", "HEAD", COPIES + "/") or b"").decode()
        paths = [p for p in listing.split("\0") if p.endswith(".ipynb")]
        return {Path(p).name: _git(repo, "cat-file", "blob", f"HEAD:{p}") for p in paths}
    files = sorted((repo / COPIES).glob("*.ipynb"))
    return {p.name: p.read_bytes() if pristine(p.read_bytes()) else None for p in files}


def stale_copies(repo: Path = REPO_ROOT) -> list[str]:
    """What is wrong with the shipped copies, compared with what the generator makes from the solved notebooks."""
    fresh, shipped = fresh_copies(repo / "notebooks"), committed_copies(repo)
    problems = [f"{name}: missing" for name in fresh if name not in shipped]
    problems += [f"{name}: no solved notebook makes it any more (delete it)"
                 for name in shipped if name not in fresh and shipped[name] is not None]
    for name in fresh.keys() & shipped.keys():
        if shipped[name] is not None and shipped[name] != fresh[name]:
            problems.append(f"{name}: out of date")
    return sorted(problems)


def test_strip_solutions_keeps_indentation_and_the_rest():
    src = "def f(x):\n    y = 1\n    # BEGIN SOLUTION\n    return x + y\n    # END SOLUTION\n\nprint(f)"
    out = strip_solutions(src)
    assert "return x + y" not in out and "y = 1" in out and out.endswith("\n\nprint(f)")
    assert "    # YOUR CODE HERE\n    raise NotImplementedError(" in out
    with pytest.raises(ValueError, match="unbalanced"):
        strip_solutions("# BEGIN SOLUTION\nx = 1\n")


def test_student_copies_are_up_to_date():
    assert fresh_copies(), "no solved notebook has an exercise"
    problems = stale_copies()
    assert not problems, ("The student copies as committed do not match what the generator makes from the "
                          "solved notebooks:\n  " + "\n  ".join(problems) + "\n" + REGENERATE)


# --- a student's work is never destroyed ------------------------------------------------------------------

def _solve(path: Path) -> bytes:
    """Do what a student does: fill in the first exercise, run it (an output appears), save."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "# YOUR CODE HERE" in c.source)
    cell.source = cell.source.replace("# YOUR CODE HERE", "answer = 42  # my answer")
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    nbformat.write(nb, path)
    return path.read_bytes()


def _older_copy(name: str) -> bytes:
    """A copy as the generator wrote it from an older version of the solved notebook."""
    nb = nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("An intro paragraph the course has since dropped."))
    return render(nb)


def test_regenerating_keeps_changed_copies_and_updates_untouched_ones(tmp_path, capsys):
    first = write_student_copies(out=tmp_path)
    assert set(first.values()) == {"written"}
    fresh = {p.name: p.read_bytes() for p in first}
    names = sorted(fresh)
    mine, also_mine, stale = (tmp_path / n for n in names[:3])
    solved = {p: _solve(p) for p in (mine, also_mine)}
    stale.write_bytes(_older_copy(stale.name))
    assert render(nbformat.read(REPO_ROOT / "notebooks" / names[3], as_version=4)) == fresh[names[3]]  # deterministic

    student_copies.main(["--out", str(tmp_path)])
    out = capsys.readouterr().out
    for p in (mine, also_mine):
        assert p.read_bytes() == solved[p], f"{p.name}: the student's work was overwritten"
        assert f"skipped     {p}" in out
    assert stale.read_bytes() == fresh[stale.name], "an untouched, out-of-date copy was not updated"
    assert f"written     {stale}" in out
    assert all(f"up to date  {tmp_path / n}" in out for n in names[3:])
    assert "2 skipped" in out and "python -m tools.student_copies --force " in out

    # --force resets the named copy only
    prefix = mine.name.split("_")[0]
    report = write_student_copies(out=tmp_path, force=[prefix])
    assert report[mine] == "reset" and mine.read_bytes() == fresh[mine.name]
    assert report[also_mine] == "skipped" and also_mine.read_bytes() == solved[also_mine]
    assert write_student_copies(out=tmp_path, force=[also_mine.stem])[also_mine] == "reset"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == fresh


def test_force_with_an_unknown_name_is_an_error_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"--force '99'.*Known: 01"):
        write_student_copies(out=tmp_path, force=["99"])
    with pytest.raises(SystemExit) as err:
        student_copies.main(["--out", str(tmp_path), "--force", "03", "finetune"])
    assert err.value.code != 0 and "--force 'finetune': no student copy has that name" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_copy_from_before_fingerprints_is_updated_only_if_it_holds_nothing_else():
    def without_fingerprint(data):
        nb = nbformat.reads(data.decode(), as_version=4)
        del nb.metadata.course[FINGERPRINT]
        return nbformat.writes(nb).encode()
    name, new = next(iter(fresh_copies().items()))
    assert pristine(new) and not pristine(without_fingerprint(new))
    assert loses_nothing(without_fingerprint(new), new)     # same content: the update only adds the fingerprint
    assert loses_nothing(new.replace(b"\n", b"\r\n"), new)  # other line endings, same content
    assert loses_nothing(_older_copy(name), new)            # stale but untouched
    assert not loses_nothing(without_fingerprint(_older_copy(name)), new)   # no way to tell it is untouched
    assert not loses_nothing(b"not a notebook", new)


AUTHOR = ("-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false")


@pytest.fixture
def course_repo(tmp_path):
    """A small clone of the course: two solved notebooks, their student copies, committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "course"
    (repo / "notebooks").mkdir(parents=True)
    for name in sorted(fresh_copies())[:2]:
        shutil.copy(REPO_ROOT / "notebooks" / name, repo / "notebooks" / name)
    write_student_copies(src=repo / "notebooks")
    for args in (["init", "-q"], ["add", "."], [*AUTHOR, "commit", "-qm", "course"]):
        assert _git(repo, *args) is not None, f"git {args[0]} failed"
    return repo


def test_a_students_saved_work_does_not_fail_the_up_to_date_check(course_repo):
    copies = sorted((course_repo / COPIES).glob("*.ipynb"))
    assert stale_copies(course_repo) == []
    _solve(copies[0])
    copies[1].unlink()                             # even a deleted working copy: the commit is what ships
    assert stale_copies(course_repo) == []
    assert committed_copies(course_repo)[copies[0].name] == fresh_copies(course_repo / "notebooks")[copies[0].name]


def test_the_up_to_date_check_fails_on_a_stale_commit(course_repo):
    copy = sorted((course_repo / COPIES).glob("*.ipynb"))[0]
    copy.write_bytes(_older_copy(copy.name))
    assert stale_copies(course_repo) == []          # not committed yet: the commit is still right
    assert _git(course_repo, *AUTHOR, "commit", "-qam", "stale") is not None
    assert stale_copies(course_repo) == [f"{copy.name}: out of date"]


def test_without_git_the_files_are_checked_but_a_students_work_is_not_held_against_them(course_repo):
    shutil.rmtree(course_repo / ".git")            # as unpacked from a zip
    first, second = sorted((course_repo / COPIES).glob("*.ipynb"))
    _solve(first)
    (course_repo / COPIES / "my_attempt.ipynb").write_bytes(first.read_bytes())   # a student's own extra copy
    assert committed_copies(course_repo)[first.name] is None
    assert stale_copies(course_repo) == []
    second.write_bytes(_older_copy(second.name))   # untouched but stale: that is the course's fault
    assert stale_copies(course_repo) == [f"{second.name}: out of date"]


# --- the shipped copies hold no solution and no output; every checker rejects the stub -------------------

class _StandIns(dict):
    def __missing__(self, name):
        import builtins
        if hasattr(builtins, name):
            return getattr(builtins, name)
        return MagicMock(name=name)


def exercise_cells(nb):
    cells = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(cells):
        if "# YOUR CODE HERE" in cell.source:
            check = next(c for c in cells[i + 1:] if "check_" in c.source)
            yield cell.source, check.source


SHIPPED = committed_copies()


@pytest.mark.parametrize("name", sorted(SHIPPED), ids=lambda n: n.removesuffix(".ipynb"))
def test_copies_have_no_solutions_or_outputs_and_checkers_reject_the_stub(name, tokenizer):
    if SHIPPED[name] is None:
        pytest.skip(f"{name} holds changes (a student's work?) and there is no git commit to check instead")
    nb = nbformat.reads(SHIPPED[name].decode("utf-8"), as_version=4)
    assert not any(BEGIN in c.source for c in nb.cells), "a solution was left in the student copy"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert "widgets" not in nb.metadata, "the solved run's widget state was copied"
    stubs = list(exercise_cells(nb))
    assert stubs, f"{name} has no exercise"
    for stub, check in stubs:
        namespace = {"tok": tokenizer}
        exec(stub, namespace)
        # Names the check cell takes from earlier cells (results, models) are stand-ins: a checker must
        # reject the stub before it uses them.
        with pytest.raises(CheckFailed, match="not written yet") as err:
            exec(check, namespace, _StandIns(namespace))
        assert "Hint:" in str(err.value)


def test_no_notebook_reaches_outside_its_folder_with_a_relative_path():
    """A student copy runs from notebooks/exercises/, one folder below the solved notebook, so a path such as
    "../data" names the course's data/ in one and a stray notebooks/data/ in the other. Notebooks name
    shipped files with data_dir() and write relative to where they run (checkpoints/)."""
    for path in sorted((REPO_ROOT / "notebooks").glob("**/*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code":
                assert "../" not in cell.source, f"{path.relative_to(REPO_ROOT)}, cell {i}: a '../' path"


def test_every_exercise_has_graded_hints():
    """Each function a student writes has at least two hints: what to look at, then the shape of the answer."""
    import re

    from course_utils.checks.common import HINTS
    written = {}
    for path in sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and BEGIN in cell.source:
                for name in re.findall(r"^def (\w+)\(", cell.source, re.MULTILINE):
                    written[name] = path.name
    assert written
    missing = {name: nb for name, nb in written.items() if len(HINTS.get(name, ())) < 2}
    assert not missing, f"exercises without two graded hints (course_utils/checks, hints(...)): {missing}"
