"""Multiple-choice quizzes with an explanation for every option.

In JupyterLab 4 (ipywidgets 8) and Colab (ipywidgets 7.7) a quiz is a small widget: pick an option,
press "Check", read why it is right or wrong. Where widgets cannot render (a notebook viewed on GitHub,
a terminal, ipywidgets missing, or COURSE_WIDGETS=0) the same quiz shows as text, and
`check_quiz(notebook, number, letter)` prints the verdict and the explanation. The course's quizzes
live in `quiz_bank.py`, not in the notebooks, so a notebook never shows which option is right. The text
form is also what the widget puts in its `text/plain` output, so a saved notebook reads the same
everywhere and compares equal under nbval.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

LETTERS = "ABCDEFGH"


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


def display_widget(widget, text: str) -> None:
    """One output, two representations: the widget for live front-ends, `text` for everything else
    (GitHub, nbval, a kernel-less viewer). Used by the quizzes and the chat."""
    from IPython.display import display
    display({"text/plain": text,
             "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                          "model_id": widget.model_id}}, raw=True)


def widgets_wanted() -> bool:
    if os.environ.get("COURSE_WIDGETS", "1") == "0":
        return False
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


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
