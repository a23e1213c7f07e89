"""What SFT does with facts the base model never read (issue 26; Gekhman et al. 2024, "Does Fine-Tuning
LLMs on New Knowledge Encourage Hallucinations?", arXiv 2405.05904).

QA SFT on questions about *known* people (in pre-training) mixed with questions about *unknown* people
(`data.load_unknown_qa`: people no pre-training document mentions, so their answers are facts the base
model cannot have) at a share of the set, the same number of examples, steps, learning rate and
evaluation whatever the share. During the run it measures, every `eval_every` steps:

- the loss of the known and of the unknown training examples, and the share of each the model answers
  as trained (are unknown ones fitted later?);
- accuracy on questions about known people *not* in the SFT set (`known test`, the paper's test of how
  well the model uses what it knew), and on a separate set of such people (`known validation`) that an
  early stop reads;
- what the model says about unknown people never in the SFT set: a made-up value, an abstention, or
  neither (`scorers.unknown_reply_kind`).

With `unknown_answers="abstention"` the unknown examples answer "I don't know ..." instead of their facts;
with "filtered" they are left out (the same steps on the known rows alone).
"""
from __future__ import annotations

import copy
import random
import statistics
from dataclasses import dataclass, replace

import datasets

from .data import load_sft, load_unknown_qa
from .encode import encode_sft
from .env import REPO_ROOT
from .evaluate import reply
from .scorers import about_the_person, abstains, score_qa, unknown_reply_kind
from .train import TrainConfig, train_sft, validation_loss

RECORD = REPO_ROOT / "experiments" / "results" / "unknown_facts.json"   # what experiments/unknown_facts.py wrote
UNKNOWN_RUN = TrainConfig(max_steps=300, batch_size=16, lr=1e-3, eval_every=25, log_every=25)
SHARES = (0.0, 0.25, 0.5)
SFT_SIZE = 480               # examples in every SFT set, whatever its unknown share
REPLY_STEPS = (25, 50, 100, 150, 200, 250, 300)   # evaluations that generate replies (losses: every eval_every)
MAX_NEW_TOKENS = 24          # every answer fits; a long abstention is cut, still an abstention


@dataclass(frozen=True)
class Yardsticks:
    """The fixed question sets every run is measured on (the same rows for every share and seed)."""
    known_validation: list[dict]    # known people never in SFT: what an early stop reads
    known_test: list[dict]          # other known people never in SFT: the reported accuracy
    unknown_test: list[dict]        # unknown people never in SFT: made up or abstained?
    fit_sample: int                 # training examples of each kind whose fit is read at each evaluation

    @classmethod
    def build(cls, n_validation_people: int = 30, n_test_people: int = 30, wordings: int = 2,
              n_unknown_people: int | None = None, fit_sample: int = 64, seed: int = 0) -> "Yardsticks":
        """Split the QA set's `test_people` (in pre-training, never in QA SFT) by person into validation and
        test people; ask each of their facts in `wordings` of the training wordings, drawn at random. The
        unknown test asks every fact of the unknown test people (or of the first `n_unknown_people`) once."""
        rng = random.Random(seed)
        known = _questions_per_fact(load_sft("qa", "test_people").to_list(), rng, wordings)
        people = sorted({r["person"] for r in known})
        rng.shuffle(people)
        if n_validation_people + n_test_people > len(people):
            raise ValueError(f"only {len(people)} known test people to split")
        validation_people = set(people[:n_validation_people])
        test_people = set(people[n_validation_people: n_validation_people + n_test_people])
        unknown = _questions_per_fact(load_unknown_qa("test_people"), rng, 1)
        unknown_people = sorted({r["person"] for r in unknown})[:n_unknown_people]
        return cls([r for r in known if r["person"] in validation_people],
                   [r for r in known if r["person"] in test_people],
                   [r for r in unknown if r["person"] in set(unknown_people)], fit_sample)


def _questions_per_fact(rows: list[dict], rng: random.Random, k: int) -> list[dict]:
    by_fact: dict[tuple, list[dict]] = {}
    for r in rows:
        by_fact.setdefault((r["person"], r["attribute"]), []).append(r)
    return [q for _, v in sorted(by_fact.items()) for q in rng.sample(v, k)]


UNKNOWN_ANSWERS = ("fact", "abstention", "filtered")


def mixed_sft_set(n: int = SFT_SIZE, unknown_share: float = 0.0, seed: int = 0,
                  unknown_answers: str = "fact") -> list[dict]:
    """`n` QA training rows, `round(n * unknown_share)` of them about unknown people, the rest about known
    people, shuffled; each row's `kind` says which. The unknown rows teach their `unknown_answers`: the
    person's "fact" (one the base model cannot know), an "abstention" ("I don't know ..."), or are
    "filtered" out (the set keeps only its known rows, as a practitioner who drops what the model does not
    know would). The draws are nested: for one seed, a larger share keeps a prefix of the smaller share's
    known rows and extends its unknown ones, and the three answers differ in the unknown rows only."""
    if not 0.0 <= unknown_share <= 1.0:
        raise ValueError(f"unknown_share must be in [0, 1], got {unknown_share}")
    if unknown_answers not in UNKNOWN_ANSWERS:
        raise ValueError(f"unknown_answers={unknown_answers!r}: choose one of {UNKNOWN_ANSWERS}")
    k = round(n * unknown_share)
    known = load_sft("qa", "train").to_list()
    unknown = load_unknown_qa("train", abstain=unknown_answers == "abstention")
    if n - k > len(known) or k > len(unknown):
        raise ValueError(f"n={n} at share {unknown_share} needs {n - k} known and {k} unknown rows; "
                         f"there are {len(known)} and {len(unknown)}")
    random.Random(f"{seed}-known").shuffle(known)
    random.Random(f"{seed}-unknown").shuffle(unknown)
    rows = [dict(r, kind="known", taught="fact") for r in known[: n - k]]
    if unknown_answers != "filtered":
        rows += [dict(r, kind="unknown") for r in unknown[:k]]
    random.Random(f"{seed}-mix").shuffle(rows)
    return rows


def _encode(rows: list[dict], tokenizer):
    return encode_sft(datasets.Dataset.from_list([{"prompt": r["prompt"], "response": r["response"]} for r in rows]),
                      tokenizer)


def reply_kinds(replies: list[str], rows: list[dict]) -> dict[str, float]:
    """Shares of "made up", "abstained" and "other" replies (`scorers.unknown_reply_kind`);
    `right_by_chance`, made-up replies that happen to name the person's generated value; `not_about_them`,
    replies that do not speak of the person asked about (most name a known person with a similar name)."""
    kinds = [unknown_reply_kind(t, r) for t, r in zip(replies, rows)]
    shares = {k: kinds.count(k) / len(kinds) for k in ("made up", "abstained", "other")}
    shares["right_by_chance"] = sum(score_qa(t, r) for t, r in zip(replies, rows)) / len(rows)
    shares["not_about_them"] = sum(not about_the_person(t, r["person"]) for t, r in zip(replies, rows)) / len(rows)
    return shares


def _answered_as_trained(replies: list[str], rows: list[dict]) -> float:
    """Share of training rows the model answers as the row teaches: the right value about the person, or
    an abstention for a row that teaches one."""
    hits = [abstains(t) if r.get("taught") == "abstention" else score_qa(t, r) for t, r in zip(replies, rows)]
    return sum(hits) / len(hits)


def _accuracy(replies: list[str], rows: list[dict]) -> dict[str, float]:
    return {"accuracy": sum(score_qa(t, r) for t, r in zip(replies, rows)) / len(rows),
            "abstained": sum(abstains(t) for t in replies) / len(rows)}


def measure(model, tokenizer, sticks: Yardsticks, fit_rows: dict[str, list[dict]], fit_encoded: dict,
            validation_encoded=None, replies: bool = True) -> dict:
    """One evaluation: the loss of each kind of training example and of the known validation questions,
    and with `replies` (greedy generation, the costly part) each kind's fit, known validation and test
    accuracy (and how often the model abstains on people it knows) and the kinds of reply about unknown
    test people."""
    out = {"train_loss": {k: validation_loss(model, enc, tokenizer.eos_token_id) for k, enc in fit_encoded.items()}}
    if validation_encoded is not None:
        out["known validation loss"] = validation_loss(model, validation_encoded, tokenizer.eos_token_id)
    if not replies:
        return out
    groups = {"known validation": sticks.known_validation, "known test": sticks.known_test,
              "unknown test": sticks.unknown_test, **{f"fit {k}": rows for k, rows in fit_rows.items()}}
    prompts = [r["prompt"] for rows in groups.values() for r in rows]
    generated = iter(reply(model, tokenizer, prompts, max_new_tokens=MAX_NEW_TOKENS, batch_size=64))
    said = {name: [next(generated) for _ in rows] for name, rows in groups.items()}
    out.update({"fitted": {k: _answered_as_trained(said[f"fit {k}"], rows) for k, rows in fit_rows.items()},
                "known validation": _accuracy(said["known validation"], sticks.known_validation),
                "known test": _accuracy(said["known test"], sticks.known_test),
                "unknown test": reply_kinds(said["unknown test"], sticks.unknown_test),
                "_replies": said["unknown test"]})
    return out


def evaluation_steps(total: int, eval_every: int) -> list[int]:
    """The steps at which train_sft calls its eval_fn: every `eval_every` steps, and the last one."""
    return list(range(eval_every, total + 1, eval_every)) + ([total] if total % eval_every else [])


def run(base_model, tokenizer, sticks: Yardsticks, unknown_share: float, seed: int = 0,
        unknown_answers: str = "fact", n: int = SFT_SIZE, config: TrainConfig = UNKNOWN_RUN,
        reply_steps: tuple[int, ...] | None = REPLY_STEPS, **settings) -> dict:
    """Fine-tune a copy of `base_model` on `mixed_sft_set(n, unknown_share, seed, unknown_answers)` for the
    same steps whatever the set (the seed also sets the batch order). Losses are read before training and
    every `eval_every` steps; replies (accuracy, fit, what the model says about unknown people) at step 0,
    at `reply_steps` (None: at every evaluation) and at the last step.

    Returns the curve (one `measure` per evaluation, with its step), the early stop (of the evaluations
    with replies, the one with the best known-validation accuracy, the earliest on a tie), the early stop
    by known-validation loss, the final evaluation, a few replies about unknown people, and the run's
    figures."""
    config = replace(config, seed=seed, **settings)
    rows = mixed_sft_set(n, unknown_share, seed, unknown_answers)
    model = copy.deepcopy(base_model)
    pick = random.Random(f"{seed}-fit")
    fit_rows = {kind: pick.sample(subset, min(sticks.fit_sample, len(subset)))
                for kind in ("known", "unknown") if (subset := [r for r in rows if r["kind"] == kind])}
    fit_encoded = {k: _encode(v, tokenizer) for k, v in fit_rows.items()}
    validation_encoded = _encode(sticks.known_validation, tokenizer)
    total = config.total_steps(len(rows))
    steps = iter(evaluation_steps(total, config.eval_every or total))

    def evaluate(m, step=None):
        step = next(steps) if step is None else step
        with_replies = reply_steps is None or step in reply_steps or step in (0, total)
        return measure(m, tokenizer, sticks, fit_rows, fit_encoded, validation_encoded, with_replies)

    before = {"step": 0, **evaluate(model, 0)}      # the base model
    result = train_sft(model, _encode(rows, tokenizer), config, pad_token_id=tokenizer.eos_token_id, progress=False,
                       eval_fn=evaluate)
    curve = [before] + result.evals
    trained = [e for e in curve[1:] if "known test" in e]
    best = max(trained, key=lambda e: (e["known validation"]["accuracy"], -e["step"]))
    best_by_loss = min(trained, key=lambda e: (e["known validation loss"], e["step"]))
    quote = lambda e: [{"prompt": r["prompt"], "reply": t} for r, t in zip(sticks.unknown_test[:4], e["_replies"])]
    strip = lambda e: {k: v for k, v in e.items() if k != "_replies"}
    return {"unknown_share": unknown_share, "unknown_answers": unknown_answers, "seed": seed,
            "n": len(rows), "n_unknown": sum(r["kind"] == "unknown" for r in rows), "steps": result.steps,
            "examples_seen": result.examples_seen, "epochs": round(result.examples_seen / len(rows), 2),
            "curve": [strip(e) for e in curve], "early_stop": strip(best), "early_stop_by_loss": strip(best_by_loss),
            "final": strip(curve[-1]), "replies_final": quote(curve[-1]), "replies_early_stop": quote(best),
            "logged_train_loss": {"step": result.step, "loss": result.train_loss}, "seconds": round(result.seconds, 1)}


def _readings(e: dict) -> dict[str, float]:
    """The numbers of one evaluation, flat: losses always, the rest where it generated replies."""
    out = {f"loss {k}": v for k, v in e["train_loss"].items()}
    out["known validation loss"] = e.get("known validation loss")
    if "known test" in e:
        out.update({f"fitted {k}": v for k, v in e["fitted"].items()})
        out.update({"known validation": e["known validation"]["accuracy"], "known test": e["known test"]["accuracy"],
                    "known test abstained": e["known test"]["abstained"],
                    **{f"unknown {k}": v for k, v in e["unknown test"].items()}})
    return {k: v for k, v in out.items() if v is not None}


def summary(points: list[dict]) -> dict:
    """Each setting over its seeds: [mean, min, max] of every reading at the final step, at the early
    stop (with its step) and at the early stop by validation loss, and along the curve, step by step."""
    def spread(values):
        return [round(statistics.mean(values), 4), round(min(values), 4), round(max(values), 4)]

    def gather(evaluations):
        keys = sorted({k for e in evaluations for k in e})
        return {k: spread([e[k] for e in evaluations if k in e]) for k in keys}

    out = {}
    for name in dict.fromkeys(p["setting"] for p in points):
        mine = [p for p in points if p["setting"] == name]
        steps = sorted({e["step"] for p in mine for e in p["curve"]})
        out[name] = {"seeds": [p["seed"] for p in mine],
                     "final": gather([_readings(p["final"]) for p in mine]),
                     "early_stop": {"step": spread([p["early_stop"]["step"] for p in mine]),
                                    **gather([_readings(p["early_stop"]) for p in mine])},
                     "early_stop_by_loss": {"step": spread([p["early_stop_by_loss"]["step"] for p in mine]),
                                            **gather([_readings(p["early_stop_by_loss"]) for p in mine])},
                     "curve": {str(s): gather([_readings(e) for p in mine for e in p["curve"] if e["step"] == s])
                               for s in steps}}
    return out
