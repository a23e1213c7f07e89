"""The checker of notebook 08's exercise: the verifier of worked solutions (verify), which reads a reply's
final answer, "The answer is X.", and nothing else."""
from __future__ import annotations

from .common import call_student, fail, hints

hints("verify",
      "Find every sentence of the form \"The answer is X.\" in the reply, not the first word and not any "
      "'yes' or 'no' inside it. How many different answers did the reply give? yes/no may come capitalised; "
      "a name must be the whole name.",
      "The shape of the answer: answers = {a.strip() for a in re.findall(r\"The answer is ([^.]+)\\.\", reply)}; "
      "lower-case an answer only when it is yes or no; return len(answers) == 1 and the one answer == answer "
      "(a bool). Two different answers is a hedge: not verified.")

TRACE = "Mira Vell was born in the year 1986. Oren Tash was born in the year 1973. "
# (reply, the row's answer, what the verifier must say, the mistake a wrong verdict points to)
VERIFY_CASES = [
    (TRACE + "The answer is no.", "no", True, "the answer is in the sentence \"The answer is X.\", not in the reply's first word"),
    (TRACE + "The answer is no.", "yes", False, "the final answer differs from the row's"),
    (TRACE + "The answer is No.", "no", True, "yes and no are the same answer in capitals: compare them in lower case"),
    ("The answer is not clear.", "no", False, "'no' inside 'not': read the whole answer, not a substring"),
    ("No, the answer needs both years. The answer is yes.", "no", False,
     "the reply's first word is not its answer: read the sentence \"The answer is X.\""),
    ("The answer is yes. The answer is no.", "no", False, "a reply that gives two answers has hedged: not verified"),
    ("The answer is yes. The answer is no.", "yes", False, "a reply that gives two answers has hedged: not verified"),
    ("The answer is yes. Mira Vell was born in the year 1986. The answer is yes.", "yes", True,
     "the same answer twice is one answer, and it need not be the last sentence"),
    ("Oren Tash was born in Veralon in 1973. The answer is Oren.", "Oren Tash", False,
     "a first name is not the person: the whole name must match"),
    ("Oren Tash was born in Veralon in 1973. The answer is Oren Tash.", "Oren Tash", True,
     "an inverse lookup answered with the whole name"),
    ("Oren Tash was born in Veralon in 1973. The answer is Oren Tashby.", "Oren Tash", False,
     "a longer name that starts like the answer is another person: compare whole answers"),
    ("Mira Vell was born in the year 1986. She was born in an even year.", "yes", False,
     "a reply with no \"The answer is X.\" sentence has not answered"),
]


def check_verify(fn) -> None:
    """Check `fn(reply, answer) -> bool`, the verifier of the self-generated round, on replies with hedges,
    capitals, answers hidden inside other words and names that start like the right one."""
    name = getattr(fn, "__name__", "your function")
    for reply, answer, expected, why in VERIFY_CASES:
        got = call_student(fn, reply, answer, name=name)
        if not isinstance(got, bool):
            raise fail(f"{name}({reply!r}, {answer!r}) returned {got!r}, a {type(got).__name__}.",
                       "return a bool: True when the reply's final answer is `answer`.")
        if got != expected:
            raise fail(f"{name}({reply!r}, {answer!r}) returned {got}; the verifier must say {expected}: {why}.",
                       "a verifier reads only the sentence \"The answer is X.\" (hint('verify') for more).")
    print(f"{name}: right on all {len(VERIFY_CASES)} replies, hedges, capitals and look-alike names included.")
