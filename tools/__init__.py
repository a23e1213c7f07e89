"""Build-time tools of the course, run from the repository root; notebooks never import them.

    python -m tools.world --out data       # the generated world: every data file in data/
    python -m tools.pretrain               # the tokenizer and the base models in data/models/
    python -m tools.student_copies         # the student copies in notebooks/exercises/
    python -m tools.colab                  # every notebook's set-up cell and the README's learning path

The runtime package, `course_utils`, reads what these write and never imports them.
"""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
