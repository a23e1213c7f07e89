"""Multiple-choice quizzes with an explanation for every option.

A notebook cell says `show_quiz("04", 2)`. In JupyterLab 4 (ipywidgets 8) and Colab (ipywidgets 7.7) the
quiz is a small widget: pick an option, press "Check", read why it is right or wrong. Where widgets cannot
render (a notebook viewed on GitHub, a terminal, ipywidgets missing, or COURSE_WIDGETS=0) the same quiz
shows as text, and `check_quiz("04", 2, "your letter")` prints the verdict and the explanation. The text
form is also what the widget puts in its `text/plain` output, so a saved notebook reads the same
everywhere and compares equal under nbval.

    from course_utils.quiz import check_quiz, quiz, show_quiz
    show_quiz("04", 2)               # the widget, or the text and how to check it
    check_quiz("04", 2, "C")         # text mode: the verdict and the explanation of option C
    quiz("04", 2).question           # the Quiz object itself

The quizzes live in data files, one per notebook (`quizzes/04.toml`), so that a notebook shows the
question and never the key, and so that they can be read and edited as text. In a file each `[[quiz]]`
has a `topic` (what it tests, in a few words: the notebook's "### Quiz: <topic>" heading), a `question`
and its `[[quiz.choices]]`, options A, B, C, ... in the order written, each with its `text`, whether it is
`correct` (exactly one is) and `why` it is right or wrong. Quizzes are numbered in the order the file
holds them, which is the order the notebook shows them ("Quiz 4.2" is the second of 04.toml).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .widgets import display_widget, widgets_wanted

LETTERS = "ABCDEFGH"
QUIZ_DIR = Path(__file__).resolve().with_name("quizzes")


@dataclass(frozen=True)
class Choice:
    text: str
    correct: bool
    why: str


@dataclass(frozen=True)
class Quiz:
    question: str
    choices: tuple[Choice, ...]
    title: str = "Quiz"
    topic: str = ""          # what the quiz tests, in a few words (the notebook's "### Quiz: <topic>" heading)

    def __post_init__(self):
        if sum(c.correct for c in self.choices) != 1:
            raise ValueError(f"quiz {self.topic or self.title!r} must have exactly one correct choice")
        if not 2 <= len(self.choices) <= len(LETTERS):
            raise ValueError(f"quiz {self.topic or self.title!r} needs 2 to {len(LETTERS)} choices")

    def as_text(self) -> str:
        lines = [f"{self.title}: {self.question}", ""]
        lines += [f"  {LETTERS[i]}) {c.text}" for i, c in enumerate(self.choices)]
        return "\n".join(lines)

    def verdict(self, letter: str) -> str:
        """'Correct' or 'Not quite', with the explanation of the chosen option."""
        letter = str(letter).strip().upper()
        if len(letter) != 1 or letter not in LETTERS[: len(self.choices)]:
            raise ValueError(f"answer with one of {', '.join(LETTERS[: len(self.choices)])}, not {letter!r}")
        choice = self.choices[LETTERS.index(letter)]
        head = "Correct." if choice.correct else "Not quite."
        return f"{letter}) {head} {choice.why}"

    def answer(self, letter: str) -> None:
        """Text mode: print the verdict for your answer."""
        print(self.verdict(letter))

    def show(self, check_hint: str = "quiz.answer('your letter')") -> None:
        """Display the quiz: a widget where widgets work, text otherwise (answered with `check_hint`)."""
        widget = _build_widget(self)
        if widget is None:
            print(self.as_text())
            print(f"\nWithout widgets, check your answer in a code cell:  {check_hint}")
            return
        display_widget(widget, self.as_text())


# ---- the course's quizzes, read from quizzes/NN.toml ------------------------------------------------------
class QuizFileError(ValueError):
    """A quiz file that cannot be read as quizzes; the message names the file and the quiz."""


QUIZ_FIELDS = ("topic", "question", "choices")
CHOICE_FIELDS = ("text", "correct", "why")


def _fields(table, fields: tuple[str, ...], where: str) -> None:
    """Every field present, none unknown (a misspelt field would otherwise be silently ignored)."""
    if not isinstance(table, dict):
        raise QuizFileError(f"{where}: expected a table with {', '.join(fields)}, got {type(table).__name__}")
    missing = [f for f in fields if f not in table]
    unknown = [f for f in table if f not in fields]
    if missing or unknown:
        problems = ([f"missing field {', '.join(map(repr, missing))}"] if missing else []) + \
                   ([f"unknown field {', '.join(map(repr, unknown))}"] if unknown else [])
        raise QuizFileError(f"{where}: {'; '.join(problems)} (expected {', '.join(fields)})")


def _text(value, field: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise QuizFileError(f"{where}: {field!r} must be a non-empty string, got {value!r}")
    return value


def _choice(entry, where: str) -> Choice:
    _fields(entry, CHOICE_FIELDS, where)
    if not isinstance(entry["correct"], bool):
        raise QuizFileError(f"{where}: 'correct' must be true or false, got {entry['correct']!r}")
    return Choice(_text(entry["text"], "text", where), entry["correct"], _text(entry["why"], "why", where))


def _quiz(entry, title: str, where: str) -> Quiz:
    _fields(entry, QUIZ_FIELDS, where)
    topic, question = _text(entry["topic"], "topic", where), _text(entry["question"], "question", where)
    where = f"{where} ({topic!r})"
    entries = entry["choices"]
    if not isinstance(entries, list) or not 2 <= len(entries) <= len(LETTERS):
        raise QuizFileError(f"{where}: needs 2 to {len(LETTERS)} [[quiz.choices]], "
                            f"has {len(entries) if isinstance(entries, list) else entries!r}")
    choices = tuple(_choice(c, f"{where}, choice {LETTERS[i]}") for i, c in enumerate(entries))
    right = [LETTERS[i] for i, c in enumerate(choices) if c.correct]
    if len(right) != 1:
        raise QuizFileError(f"{where}: exactly one correct choice is needed, "
                            f"found {len(right)}{' (' + ', '.join(right) + ')' if right else ''}")
    return Quiz(question, choices, title=title, topic=topic)


def read_quizzes(path: str | Path) -> tuple[Quiz, ...]:
    """The quizzes of one notebook's file, `NN.toml`, checked and titled "Quiz N.1", "Quiz N.2", ..."""
    path = Path(path)
    if not (len(path.stem) == 2 and path.stem.isdigit()):
        raise QuizFileError(f"{path}: a quiz file is named after its notebook's number, e.g. 04.toml")
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise QuizFileError(f"{path}: not valid TOML: {e}") from None
    entries = document.get("quiz")
    if set(document) != {"quiz"} or not isinstance(entries, list) or not entries:
        raise QuizFileError(f"{path}: expected one or more [[quiz]] tables and nothing else, "
                            f"found {', '.join(map(repr, document)) or 'nothing'}")
    return tuple(_quiz(entry, f"Quiz {int(path.stem)}.{i}", f"{path}, quiz {i}")
                 for i, entry in enumerate(entries, 1))


def quiz_notebooks() -> list[str]:
    """The notebooks that have quizzes: "00", "01", ..."""
    return sorted(p.stem for p in QUIZ_DIR.glob("[0-9][0-9].toml"))


@cache
def notebook_quizzes(notebook: str) -> tuple[Quiz, ...]:
    """Every quiz of a notebook ("04"), in the order the notebook shows them."""
    return read_quizzes(QUIZ_DIR / f"{notebook}.toml")


def quiz(notebook: str, number: int) -> Quiz:
    """Quiz `number` (1-based, in the order the notebook shows them) of a notebook ("00" to "07")."""
    notebook = str(notebook).zfill(2)
    if notebook not in quiz_notebooks():
        raise ValueError(f"no quizzes for notebook {notebook!r}; choose one of {', '.join(quiz_notebooks())}")
    quizzes = notebook_quizzes(notebook)
    if not 1 <= number <= len(quizzes):
        raise ValueError(f"notebook {notebook} has quizzes 1 to {len(quizzes)}, not {number}")
    return quizzes[number - 1]


def show_quiz(notebook: str, number: int) -> None:
    """Show a quiz: a widget where widgets work; elsewhere the question as text, checked with check_quiz."""
    quiz(notebook, number).show(
        check_hint=f"from course_utils.quiz import check_quiz; check_quiz({notebook!r}, {number}, 'your letter')")


def check_quiz(notebook: str, number: int, letter: str) -> None:
    """Without widgets: print whether `letter` is right, and why."""
    quiz(notebook, number).answer(letter)


# ---- the widget ---------------------------------------------------------------------------------------------
def _build_widget(quiz: Quiz):
    if not widgets_wanted():
        return None
    try:
        import ipywidgets as w
    except ImportError:
        return None
    options = [(f"{LETTERS[i]}) {c.text}", LETTERS[i]) for i, c in enumerate(quiz.choices)]
    radio = w.RadioButtons(options=options, value=None, layout=w.Layout(width="auto"))
    button = w.Button(description="Check")
    feedback = w.HTML(value="")

    def on_check(_):
        if radio.value is None:
            feedback.value = "<i>Pick an option first.</i>"
            return
        ok = quiz.choices[LETTERS.index(radio.value)].correct
        color = "#1a7f37" if ok else "#b42318"
        feedback.value = f"<span style='color:{color}'>{quiz.verdict(radio.value)}</span>"

    button.on_click(on_check)
    title = w.HTML(value=f"<b>{quiz.title}:</b> {quiz.question}")
    return w.VBox([title, radio, button, feedback])
