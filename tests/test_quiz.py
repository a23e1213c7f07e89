"""Quizzes: one right answer, explanations, a widget in a kernel and text everywhere else; the quiz files."""
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


# ---- the course's quizzes (course_utils/quizzes/NN.toml) and the notebooks that show them ----

import json  # noqa: E402
import re  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from course_utils.quiz import (LETTERS, check_quiz, notebook_quizzes, quiz, quiz_notebooks,  # noqa: E402
                               show_quiz)

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
QUIZZES = {notebook: notebook_quizzes(notebook) for notebook in quiz_notebooks()}
# Every notebook but 00 (which shows one quiz to explain how they work) asks three or more.
NOTEBOOKS = sorted(p.name[:2] for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb") if p.name[:2] != "00")
ALL_QUIZZES = [(nb, i, q) for nb, quizzes in QUIZZES.items() for i, q in enumerate(quizzes, 1)]


def right_letter(q):
    return LETTERS[[c.correct for c in q.choices].index(True)]


def test_every_notebook_has_quizzes_and_00_keeps_its_demo():
    assert len(QUIZZES["00"]) >= 1, "notebook 00 explains quizzes with a demo quiz"
    for notebook in NOTEBOOKS:
        assert len(QUIZZES.get(notebook, ())) >= 3, \
            f"notebook {notebook} has {len(QUIZZES.get(notebook, ()))} quizzes (course_utils/quizzes/{notebook}.toml)"


@pytest.mark.parametrize("notebook, number, q", ALL_QUIZZES, ids=[f"{nb}.{i}" for nb, i, _ in ALL_QUIZZES])
def test_every_quiz_has_one_right_option_and_explains_every_option(notebook, number, q):
    assert sum(c.correct is True for c in q.choices) == 1 and all(isinstance(c.correct, bool) for c in q.choices)
    assert 3 <= len(q.choices) <= len(LETTERS)
    assert q.title == f"Quiz {int(notebook)}.{number}" and q.topic.strip() and q.question.strip()
    assert all(c.text.strip() and len(c.why.strip()) >= 20 for c in q.choices), "every option needs an explanation"
    assert len({c.text for c in q.choices}) == len(q.choices), "options must differ"


def test_right_answers_are_spread_over_the_letters():
    letters = Counter()
    for notebook in NOTEBOOKS:
        right = [right_letter(q) for q in QUIZZES[notebook]]
        most, count = Counter(right).most_common(1)[0]
        # Within a notebook no letter is right in over 40% of its quizzes (rounded up: 2 of 4 or 5, 3 of 6-7).
        assert count <= -(-2 * len(right) // 5), f"notebook {notebook}: {most} is right in {count} of {right}"
        letters.update(right)
    total = sum(letters.values())
    assert max(letters.values()) / total <= 0.4, f"right answers by letter: {dict(letters)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_right_option_is_not_given_away_by_its_length(notebook):
    quizzes = QUIZZES[notebook]
    longest = [q.title for q in quizzes
               if len(q.choices[LETTERS.index(right_letter(q))].text) == max(len(c.text) for c in q.choices)]
    assert len(longest) <= len(quizzes) / 3, f"the right option is the longest in {len(longest)} quizzes: {longest}"


# Words that make a wrong option easy to rule out without knowing the answer: a distractor should be a
# misconception someone holds, stated as they would state it.
ABSOLUTE = re.compile(r"\b(always|never|at all|proves?|proven|nothing|guarantee[sd]?|impossible|no effect|"
                      r"entirely|completely|certainly)\b", re.IGNORECASE)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_wrong_options_are_misconceptions_not_absolutes(notebook):
    flagged = [f"{q.title} {LETTERS[k]}: {ABSOLUTE.search(c.text).group(0)!r} in {c.text!r}"
               for q in QUIZZES[notebook] for k, c in enumerate(q.choices) if not c.correct and ABSOLUTE.search(c.text)]
    assert not flagged, "absolute words in wrong options:\n" + "\n".join(flagged)


@pytest.mark.parametrize("notebook, number, q", ALL_QUIZZES, ids=[f"{nb}.{i}" for nb, i, _ in ALL_QUIZZES])
def test_a_shown_quiz_reveals_no_answer(capsys, notebook, number, q):
    show_quiz(notebook, number)
    out = capsys.readouterr().out
    assert out.startswith(q.as_text()) and q.question in out
    assert all(f"  {LETTERS[i]}) {c.text}" in out for i, c in enumerate(q.choices))
    assert not any(c.why in out for c in q.choices), "the explanations appear only after an answer"
    # nothing but the quiz and how to check it in text mode, with a placeholder for the letter
    hint = f"from course_utils.quiz import check_quiz; check_quiz({notebook!r}, {number}, 'your letter')"
    assert out == f"{q.as_text()}\n\nWithout widgets, check your answer in a code cell:  {hint}\n"


def test_check_quiz_gives_the_verdict_and_the_explanation(capsys):
    q = quiz("04", 2)
    right = right_letter(q)
    wrong = next(letter for letter in LETTERS[: len(q.choices)] if letter != right)
    check_quiz("04", 2, right)
    check_quiz("04", 2, wrong.lower())
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{right}) Correct. {q.choices[LETTERS.index(right)].why}"
    assert out[1] == f"{wrong}) Not quite. {q.choices[LETTERS.index(wrong)].why}"
    assert quiz(4, 2) is q, "a notebook number works too"
    with pytest.raises(ValueError, match=f"notebook 04 has quizzes 1 to {len(QUIZZES['04'])}"):
        quiz("04", 99)
    with pytest.raises(ValueError, match="no quizzes for notebook '09'"):
        quiz("09", 1)


def test_in_a_kernel_a_bank_quiz_is_a_widget_whose_text_has_no_answer():
    pytest.importorskip("ipywidgets")
    outputs = run_in_kernel("from course_utils.quiz import show_quiz\nshow_quiz('04', 1)")
    assert len(outputs) == 1 and "application/vnd.jupyter.widget-view+json" in outputs[0]["data"]
    assert outputs[0]["data"]["text/plain"] == quiz("04", 1).as_text()


# What a notebook may not hold: an answer given (quiz.answer("B"), check_quiz(..., "C")), or a quiz built in a
# cell (Choice(..., True, ...), correct=True), in its code or, as an example to copy, in its text.
GIVES_AN_ANSWER = re.compile(r"""\.answer\(|check_quiz\(|\bChoice\(|\bQuiz\(|correct\s*=\s*True""")
ANSWER_IN_TEXT = re.compile(r"""(\.answer|check_quiz)\([^)]*["'][A-Ha-h]["']\s*\)|\bChoice\(|correct\s*=\s*True""")
SHOW_CALL = re.compile(r"""show_quiz\(\s*["'](\d\d)["']\s*,\s*(\d+)\s*\)""")


def notebook_paths():
    solved = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    return solved + sorted((NOTEBOOK_DIR / "exercises").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: str(p.relative_to(NOTEBOOK_DIR)))
def test_notebooks_show_their_bank_quizzes_and_never_an_answer(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    notebook = path.name[:2]
    shown = []
    whys = [c.why for q in QUIZZES.get(notebook, []) for c in q.choices]
    for k, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            assert not GIVES_AN_ANSWER.search(source), f"{path.name}, cell {k}: holds a quiz or an answer:\n{source}"
            shown += [(nb, int(n)) for nb, n in SHOW_CALL.findall(source)]
            printed = json.dumps(cell.get("outputs", []))
            assert not any(json.dumps(why)[1:-1] in printed for why in whys), \
                f"{path.name}, cell {k}: an output shows a quiz explanation (someone checked an answer)"
        else:
            assert not ANSWER_IN_TEXT.search(source), f"{path.name}, cell {k}: its text gives an answer:\n{source}"
    expected = [(notebook, n) for n in range(1, len(QUIZZES.get(notebook, [])) + 1)]
    assert shown == expected, f"{path.name} should show quizzes {expected} once each, in order; it shows {shown}"


# ---- the quiz files: a mistake in one is reported with the file and the quiz ----

from course_utils.quiz import QUIZ_DIR, QuizFileError, read_quizzes  # noqa: E402

GOOD_QUIZ = """
[[quiz]]
topic = "first"
question = "Is this the first quiz?"

[[quiz.choices]]
text = "Yes"
correct = true
why = "It comes first in the file."

[[quiz.choices]]
text = "No"
correct = false
why = "Order in the file is order in the notebook."
"""


def write_quiz_file(tmp_path, body, name="04.toml"):
    path = tmp_path / name
    path.write_text(GOOD_QUIZ + body, encoding="utf-8")
    return path


def test_a_quiz_file_reads_into_numbered_quizzes(tmp_path):
    # A line ending in a backslash continues on the next one, without the line break and the indentation.
    wrapped = 'question = """\\\n    A long question, \\\n    wrapped."""'
    second = GOOD_QUIZ.replace('"first"', '"second"').replace('question = "Is this the first quiz?"', wrapped)
    quizzes = read_quizzes(write_quiz_file(tmp_path, second))
    assert [q.title for q in quizzes] == ["Quiz 4.1", "Quiz 4.2"]
    assert [q.topic for q in quizzes] == ["first", "second"]
    assert quizzes[1].question == "A long question, wrapped."
    assert quizzes[0].choices[0] == Choice("Yes", True, "It comes first in the file.")


def test_a_quiz_with_two_right_choices_names_the_file_and_the_quiz(tmp_path):
    two_right = GOOD_QUIZ.replace('"first"', '"two right"').replace("correct = false", "correct = true")
    path = write_quiz_file(tmp_path, two_right)
    with pytest.raises(QuizFileError) as error:
        read_quizzes(path)
    message = str(error.value)
    assert str(path) in message and "quiz 2 ('two right')" in message
    assert "exactly one correct choice" in message and "found 2 (A, B)" in message


def test_a_choice_without_its_why_names_the_file_the_quiz_and_the_choice(tmp_path):
    no_why = GOOD_QUIZ.replace('"first"', '"no why"').replace('why = "Order in the file is order in the notebook."\n', "")
    path = write_quiz_file(tmp_path, no_why)
    with pytest.raises(QuizFileError) as error:
        read_quizzes(path)
    message = str(error.value)
    assert str(path) in message and "quiz 2 ('no why'), choice B" in message and "missing field 'why'" in message


ONE_CHOICE = GOOD_QUIZ[: GOOD_QUIZ.rindex("[[quiz.choices]]")]


@pytest.mark.parametrize("text, expected", [
    (GOOD_QUIZ + GOOD_QUIZ.replace("question =", "questoin ="),
     "quiz 2: missing field 'question'; unknown field 'questoin'"),
    (GOOD_QUIZ + GOOD_QUIZ.replace("correct = true", 'correct = "yes"'), "choice A: 'correct' must be true or false"),
    (GOOD_QUIZ + GOOD_QUIZ.replace('text = "No"', 'text = ""'), "choice B: 'text' must be a non-empty string"),
    (GOOD_QUIZ + ONE_CHOICE, "quiz 2 ('first'): needs 2 to 8 [[quiz.choices]], has 1"),
    ('topic = "outside any quiz"\n' + GOOD_QUIZ, "expected one or more [[quiz]] tables and nothing else"),
    (GOOD_QUIZ + "[[quiz]\n", "not valid TOML"),
])
def test_other_mistakes_in_a_quiz_file_are_named(tmp_path, text, expected):
    path = tmp_path / "04.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QuizFileError, match="^" + re.escape(str(path))) as error:
        read_quizzes(path)
    assert expected in str(error.value)


def test_a_quiz_file_is_named_after_its_notebook(tmp_path):
    with pytest.raises(QuizFileError, match="named after its notebook's number"):
        read_quizzes(write_quiz_file(tmp_path, "", name="forgetting.toml"))


def test_every_quiz_file_belongs_to_a_notebook_and_ships_with_the_package():
    import tomllib
    numbers = {p.name[:2] for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")}
    files = sorted(QUIZ_DIR.iterdir())
    assert files and all(p.suffix == ".toml" and p.stem in numbers for p in files), [p.name for p in files]
    # A non-editable install (Colab) ships only what pyproject.toml lists as package data.
    setup = tomllib.loads((QUIZ_DIR.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    shipped = setup["package-data"]["course_utils"]
    assert all(any(p.relative_to(QUIZ_DIR.parent).match(pattern) for pattern in shipped) for p in files), shipped


@pytest.mark.parametrize("value, disabled", [(None, False), ("1", False), ("0", True), (" off ", True),
                                             ("false", True), ("no", True)])
def test_course_widgets_switch(monkeypatch, value, disabled):
    from course_utils.env import widgets_disabled
    from course_utils.widgets import widgets_wanted
    if value is None:
        monkeypatch.delenv("COURSE_WIDGETS", raising=False)
    else:
        monkeypatch.setenv("COURSE_WIDGETS", value)
    assert widgets_disabled() is disabled
    assert widgets_wanted() is False, "outside a kernel there is nothing to render a widget"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_measured_numbers_in_a_quiz_are_numbers_its_notebook_prints(notebook):
    """A quiz that quotes a measured percentage (one with a decimal) quotes one the committed notebook shows."""
    path = next(NOTEBOOK_DIR.glob(f"{notebook}_*.ipynb"))
    shown = " ".join(out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
                     for cell in nbformat.read(path, 4).cells if cell.cell_type == "code" for out in cell.outputs)
    for number, q in enumerate(QUIZZES[notebook], 1):
        words = " ".join([q.question] + [c.text + " " + c.why for c in q.choices])
        missing = [n for n in re.findall(r"\d+\.\d+%", words) if n not in shown]
        assert not missing, f"quiz {notebook}.{number} quotes {missing}, which {path.name} does not print"
