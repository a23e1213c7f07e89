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
    assert out.startswith(QUIZ.as_text()) and "  B) 4" in out and ".answer('A')" in out


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
