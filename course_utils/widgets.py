"""Widgets with a text twin, for the quizzes and the chat.

A widget renders only in a live front-end (JupyterLab 4 with ipywidgets 8, Colab with 7.7). Everywhere else
(a notebook read on GitHub, nbval comparing outputs, a terminal) the same output shows its text, so every
widget the course displays carries one, and `widgets_wanted()` says when to build a widget at all.
"""
from __future__ import annotations

from .env import widgets_disabled


def widgets_wanted() -> bool:
    """True inside a running kernel (where a front-end may render widgets), unless COURSE_WIDGETS=0."""
    if widgets_disabled():
        return False
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def display_widget(widget, text: str) -> None:
    """One output, two representations: the widget for live front-ends, `text` for everything else
    (GitHub, nbval, a kernel-less viewer)."""
    from IPython.display import display
    display({"text/plain": text,
             "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                          "model_id": widget.model_id}}, raw=True)
