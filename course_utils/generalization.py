"""Measuring what SFT buys beyond its examples (notebook 05).

One question-answering SFT run, then accuracy on prompts that differ from the training set in one way
each: a held-out phrasing of the question, a person never asked about in SFT (but present in
pre-training), or a different task altogether. `qa_sft_run` trains a fresh copy of a base model on a
chosen subset of the QA training set; `qa_accuracy` scores greedy replies with the QA scorer.
"""
from __future__ import annotations

import copy
import random
import re
import statistics
from dataclasses import replace

import datasets

from .data import load_eval, load_pretraining, load_sft, load_vocabulary, load_world
from .env import REPO_ROOT
from .encode import encode_sft
from .evaluate import reply, task_score
from .scorers import explain_miss, score_qa
from .train import TrainConfig, train_sft

QA_RUN = TrainConfig(max_steps=80, batch_size=16, lr=1e-3)      # notebook 05's budget for one QA run
SCHEDULES = ("steps", "epochs")     # how a size curve holds the budget equal: in steps, or in passes over the set
WITHIN_TASK = {"seen people, seen wording": "validation",    # a training person and attribute, asked again
               "seen people, new wording": "test_phrasings",  # question wordings never in SFT
               "new people": "test_people"}                   # people never in SFT, known from pre-training


RECORD = REPO_ROOT / "experiments" / "results" / "qa_generalization.json"


def read_record(path=None) -> dict:
    """The recorded sweeps of experiments/qa_generalization.py: settings, versions, machine, every point."""
    import json
    return json.loads(open(path or RECORD, encoding="utf-8").read())


def spread(values: list[float]) -> tuple[float, float, float]:
    """(mean, min, max) of one setting's scores over its seeds."""
    if not values:
        raise ValueError("values is empty: a setting needs at least one seed's score")
    return statistics.mean(values), min(values), max(values)


def compare(low: list[float], high: list[float]) -> str:
    """How the scores `high` stand against `low`, seed for seed: a difference counts only where the ranges
    separate (every seed of one setting beats every seed of the other)."""
    if min(high) > max(low):
        return "higher, beyond the seed spread"
    if max(high) < min(low):
        return "lower, beyond the seed spread"
    return "not distinguishable at this size"


def sample_rows(task: str, split: str, n: int, seed: int = 0) -> list[dict]:
    """A fixed random sample of a split (the whole split when n is larger)."""
    rows = load_sft(task, split).to_list()
    return rows if n >= len(rows) else random.Random(seed).sample(rows, n)


def within_task_tests(n: int = 300) -> dict[str, list[dict]]:
    """Notebook 05's three within-task tests, a fixed sample of `n` rows each (the notebook and the
    recorded sweeps score the very same rows)."""
    return {name: sample_rows("qa", split, n) for name, split in WITHIN_TASK.items()}


def wording_tests(n_per_wording: int = 100, seed: int = 0) -> dict[int, list[dict]]:
    """Questions about seen people, grouped by question wording (the row's `phrasing` index). Wordings
    below `qa_train_phrasings` come from the validation split (a trained person and attribute, asked in a
    wording the full training set uses, though not for that pair); the others from `test_phrasings`
    (wordings no training set uses). Whether a model saw a wording depends on its training subset."""
    by_wording: dict[int, list[dict]] = {}
    for split in ("validation", "test_phrasings"):
        for r in load_sft("qa", split).to_list():
            by_wording.setdefault(r["phrasing"], []).append(r)
    rng = random.Random(seed)
    return {k: rows if len(rows) <= n_per_wording else rng.sample(rows, n_per_wording)
            for k, rows in sorted(by_wording.items())}


def size_config(schedule: str, epochs: float = 2.0, config: TrainConfig = QA_RUN) -> TrainConfig:
    """The run of one point of a size curve. 'steps': `config` as it is, the same steps (and examples seen)
    whatever the set size, so a small set is repeated many times and a large one not even read once.
    'epochs': `epochs` passes over the set, so the steps grow with its size."""
    if schedule == "steps":
        return config
    if schedule == "epochs":
        if epochs <= 0:
            raise ValueError(f"epochs must be > 0, got {epochs}")
        return replace(config, max_steps=None, epochs=epochs)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


def qa_subset(n_examples: int | None = None, phrasings: int | None = None, seed: int = 0) -> list[dict]:
    """QA training rows: only the first `phrasings` question wordings of each attribute, then a random
    `n_examples` of those. Both None: the whole training set."""
    rows = load_sft("qa", "train").to_list()
    if phrasings is not None:
        trained = load_vocabulary("qa_train_phrasings")
        if not 1 <= phrasings <= trained:
            raise ValueError(f"phrasings must be in 1..{trained}, got {phrasings}")
        rows = [r for r in rows if r["phrasing"] < phrasings]
    if n_examples is not None:
        if n_examples > len(rows):
            raise ValueError(f"asked for {n_examples} examples but only {len(rows)} rows match")
        rows = random.Random(seed).sample(rows, n_examples)
    return rows


def qa_sft_run(base_model, tokenizer, rows: list[dict], config: TrainConfig = QA_RUN, progress: bool = False,
               **settings):
    """Fine-tune a copy of `base_model` on QA rows for a fixed budget of steps; return (model, run).
    `config`, or any of its fields as a keyword (`seed=1`), is the training run."""
    model = copy.deepcopy(base_model)
    encoded = encode_sft(datasets.Dataset.from_list([{"prompt": r["prompt"], "response": r["response"],
                                                      "id": r["id"]} for r in rows]), tokenizer)
    run = train_sft(model, encoded, replace(config, **settings), pad_token_id=tokenizer.eos_token_id,
                    progress=progress)
    return model, run


def qa_accuracy(model, tokenizer, rows: list[dict]) -> float:
    return task_score(model, tokenizer, rows, task="qa", max_new_tokens=16, batch_size=64)["score"]


def qa_measures(model, tokenizer, rows: list[dict]) -> dict:
    """Three readings of the same greedy replies: `score`, the course's (the right value, about the person
    asked); `value_only`, the paper's (the right value, whoever the reply is about); `someone_else`, the
    share of replies that name another person of the world. Also the replies themselves."""
    result = task_score(model, tokenizer, rows, task="qa", max_new_tokens=16, batch_size=64)
    replies = result["replies"]
    value_only = [score_qa(t, {k: v for k, v in r.items() if k != "person"}) for t, r in zip(replies, rows)]
    someone_else = [explain_miss("qa", t, r).startswith("it names someone else") for t, r in zip(replies, rows)]
    return {"score": result["score"], "value_only": sum(value_only) / len(rows),
            "someone_else": sum(someone_else) / len(rows), "replies": replies}


def in_biography_probes(full_name: bool = False) -> list[dict]:
    """Fact probes the paper's way for a single-biography model: each attribute is completed *inside its
    own biography* (the text before the value is the start of that person's only document). After the
    first sentence the biography says "she"/"he", so a probe that starts with the name would ask the
    model for text it never read; this one asks for exactly what pre-training stored. `full_name`: the
    probes of the twin corpus that names the person in every sentence. The generator writes them beside
    the fact probes, in the same layout."""
    return load_eval("in_biography_probes_fullname" if full_name else "in_biography_probes").to_list()


def qa_baselines(test_rows: list[dict], train_rows: list[dict]) -> dict[str, float]:
    """What the QA scorer gives without knowing the person: `chance` names a random value of the asked
    attribute (expected accuracy 1/number of values); `constant` always names the attribute's most
    common value among the training answers (the best answer that ignores who is asked about)."""
    people = {p["name"]: p for p in load_world("people")}
    values = load_vocabulary("values")
    counts: dict[str, dict[str, int]] = {}
    for r in train_rows:
        value = people[r["person"]][r["attribute"]]
        counts.setdefault(r["attribute"], {}).setdefault(value, 0)
        counts[r["attribute"]][value] += 1
    most_common = {a: max(c, key=c.get) for a, c in counts.items()}
    chance = sum(1 / len(values[r["attribute"]]) for r in test_rows) / len(test_rows)
    constant = sum(people[r["person"]][r["attribute"]] == most_common.get(r["attribute"])
                   for r in test_rows) / len(test_rows)
    return {"chance": chance, "constant": constant}


def biography_exposure(corpus: str, tokenizer) -> dict:
    """How much a corpus says about each person: biographies and tokens per person (documents that name a
    person of the world; a biography names one person only)."""
    names = [p["name"] for p in load_world("people")]
    pattern = re.compile("|".join(map(re.escape, names)))
    bios = [t for t in load_pretraining(corpus)["text"] if pattern.search(t)]
    tokens = sum(len(ids) for ids in tokenizer(bios)["input_ids"])
    return {"biographies": len(bios) / len(names), "tokens": tokens / len(names)}


def place_questions() -> list[dict]:
    """Across-task probe: questions about the world's *cities* (QA SFT only asks about people). The
    facts were in pre-training; the question type never was in SFT."""
    countries, specialities = load_vocabulary("countries"), load_vocabulary("city_specialities")
    rows = []
    for p in load_world("places"):
        rows.append({"prompt": f"Which country is {p['city']} in?", "answer": p["country"],
                     "options": countries})
        rows.append({"prompt": f"What is {p['city']} famous for?", "answer": p["known_for"],
                     "options": specialities})
    return rows


def place_accuracy(model, tokenizer, rows: list[dict] | None = None) -> float:
    """Right when the reply names the right country (or speciality) and no other one."""
    rows = rows or place_questions()
    replies = reply(model, tokenizer, [r["prompt"] for r in rows], max_new_tokens=16, batch_size=64)
    hits = [score_qa(t, {"attribute": None, "answer": r["answer"]}, options=r["options"])
            for t, r in zip(replies, rows)]
    return sum(hits) / len(hits)
