"""Quizzes: one right answer, explanations, a widget in a kernel and text everywhere else."""
import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.quiz import Choice, Quiz

QUIZ = Quiz("2 + 2?", (Choice("3", False, "one short."), Choice("4", True, "yes."), Choice("5", False, "one over.")),
            title="Quiz T")


def test_a_quiz_needs_exactly_one_right_choice():
    with pytest.raises(ValueError, match="exactly one correct"):
        Quiz("?", (Choice("a", True, ""), Choice("b", True, "")))
    with pytest.raises(ValueError, match="exactly one correct"):
        Quiz("?", (Choice("a", False, ""), Choice("b", False, "")))


def test_verdicts_explain_every_option(capsys):
    assert QUIZ.verdict("b") == "B) Correct. yes."
    assert QUIZ.verdict(" A ") == "A) Not quite. one short."
    QUIZ.answer("C")
    assert capsys.readouterr().out == "C) Not quite. one over.\n"
    with pytest.raises(ValueError, match="one of A, B, C"):
        QUIZ.verdict("D")


def test_outside_a_kernel_the_quiz_is_text(capsys):
    QUIZ.show()
    out = capsys.readouterr().out
    assert out.startswith(QUIZ.as_text()) and "  B) 4" in out and "quiz.answer('your letter')" in out


def run_in_kernel(source, env=None):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute(**({"env": env} if env else {}))
    return nb.cells[0].outputs


QUIZ_SOURCE = ("from course_utils.quiz import Choice, Quiz\n"
               "Quiz('2 + 2?', (Choice('3', False, 'a'), Choice('4', True, 'b')), title='Quiz T').show()")


def test_in_a_kernel_the_quiz_is_a_widget_with_a_text_fallback():
    pytest.importorskip("ipywidgets")
    outputs = run_in_kernel(QUIZ_SOURCE)
    assert len(outputs) == 1 and outputs[0]["output_type"] == "display_data"
    data = outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == "Quiz T: 2 + 2?\n\n  A) 3\n  B) 4"


def test_widgets_can_be_switched_off(monkeypatch):
    import os
    outputs = run_in_kernel(QUIZ_SOURCE, env=dict(os.environ, COURSE_WIDGETS="0"))
    assert [o["output_type"] for o in outputs] == ["stream"]
    assert outputs[0]["text"].startswith("Quiz T: 2 + 2?")


def test_quiz_bank_covers_every_notebook_with_spread_letters():
    from collections import Counter

    from course_utils.quiz import LETTERS
    from course_utils.quiz_bank import QUIZZES
    letters = Counter()
    for notebook in ["01", "02", "03", "04", "05", "06"]:
        quizzes = QUIZZES[notebook]
        assert len(quizzes) >= 3, f"notebook {notebook} has only {len(quizzes)} quizzes"
        right = [LETTERS[[c.correct for c in q.choices].index(True)] for q in quizzes]
        assert len(set(right)) > 1, f"notebook {notebook}: every right answer is {right[0]}"
        letters.update(right)
        for q in quizzes:
            assert all(c.why.strip() for c in q.choices), q.title
    total = sum(letters.values())
    assert max(letters.values()) / total <= 0.4, f"right answers by letter: {dict(letters)}"


def test_notebooks_show_bank_quizzes_and_never_the_answer():
    import json
    import re
    from pathlib import Path

    from course_utils.quiz_bank import QUIZZES
    root = Path(__file__).resolve().parents[1] / "notebooks"
    for path in sorted(root.glob("0*.ipynb")) + sorted((root / "exercises").glob("0*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert not re.search(r"\.answer\(|check_quiz\(|Choice\(|correct=True", code), f"{path.name} shows or gives an answer"
        shown = re.findall(r'show_quiz\("(\d\d)", (\d+)\)', code)
        notebook = path.name[:2]
        assert sorted(int(n) for nb, n in shown if nb == notebook) == list(range(1, len(QUIZZES[notebook]) + 1)), \
            f"{path.name} should show each of its {len(QUIZZES[notebook])} quizzes once"


def test_check_quiz_gives_the_verdict(capsys):
    from course_utils.quiz_bank import check_quiz, quiz
    right = "ABCD"[[c.correct for c in quiz("04", 2).choices].index(True)]
    check_quiz("04", 2, right)
    assert capsys.readouterr().out.startswith(f"{right}) Correct.")
    with pytest.raises(ValueError, match="notebook 04 has quizzes 1 to 3"):
        quiz("04", 9)
