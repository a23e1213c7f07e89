"""SFT on worked solutions (notebook 08, issue 27): answer-only vs trace SFT on questions that need stored
facts, and what the model answers about people and pairs no training question asked about.

Physics of Language Models Part 3.2 (Allen-Zhu & Li, arXiv 2309.14402) found that a model which retrieves
every fact still compares or classifies them near chance when it must answer at once, and close to its
retrieval accuracy when its training answers first write the facts out. Here both runs see the same
questions for the same steps at the same rate; only the response differs (`data.load_reasoning`):

- "answer":        "The answer is yes."
- "trace":         "A was born in 1986. B was born in 1973. The answer is yes."  (loss on all of it)
- "trace_prompt":  the same tokens as "trace", with the loss on the final sentence only: the facts sit in
                   the prompt part, so the model reads them in training but is never taught to write them.

Retrieval, the ceiling: the fact probes of the people asked about (`evaluate.fact_probe_accuracy`),
before and after SFT, and the share of the facts a trace-tuned model states that are true.
"""
from __future__ import annotations

import copy
import time
from dataclasses import replace

from .data import format_prompt, load_reasoning, reasoning_chance
from .encode import encode_example
from .env import REPO_ROOT
from .evaluate import choice_accuracy, fact_probe_accuracy, generate, load_probes
from .replay import mix_with_replay, replay_pool
from .scorers import reasoning_fields
from .train import TrainConfig, train_sft

RECORD = REPO_ROOT / "experiments" / "results" / "reasoning_traces.json"   # experiments/reasoning_traces.py wrote it
# The recorded recipe: one kind of question per model, 600 steps of 16 at 2e-3, half the examples replayed.
REASONING_RUN = TrainConfig(max_steps=600, batch_size=16, lr=2e-3, log_every=50)
REPLAY_SHARE = 0.5      # experiments/reasoning_traces.py builds its recipe from these two
RESPONSES = ("answer", "trace", "trace_prompt", "self")
MAX_NEW_TOKENS = 40          # the longest trace (inverse) is about 25 tokens


def encode(rows: list[dict], tokenizer, response: str) -> list[dict]:
    """Encoded training examples of `rows` (from `load_reasoning(..., response="trace")` or "answer").
    "trace_prompt" encodes the trace's facts into the prompt part: the same tokens as "trace" (the byte-level
    tokenizer splits before the space that starts the final sentence either way), the mask on the answer."""
    if response not in RESPONSES:
        raise ValueError(f"response={response!r}: choose one of {RESPONSES}")
    out = []
    for r in rows:
        prompt = format_prompt(r["prompt"])
        if response == "answer":
            out.append(encode_example(tokenizer, prompt, r["answer_only"]))
        elif response == "trace":
            out.append(encode_example(tokenizer, prompt, r["trace"]))
        elif response == "self":       # a reply the model wrote and the verifier kept (`keep_verified`)
            out.append(encode_example(tokenizer, prompt, r["response"]))
        else:
            out.append(encode_example(tokenizer, prompt + facts_of(r), " " + r["answer_only"]))
    return out


def facts_of(row: dict) -> str:
    """The fact sentences of a row's trace: the trace without its final answer."""
    return row["trace"][: -len(row["answer_only"])].rstrip()


def replies(model, tokenizer, rows: list[dict], temperature: float | None = None, seed: int = 0,
            batch_size: int = 64, given_facts: bool = False) -> list[str]:
    """The model's reply to each question (greedy, or sampled at `temperature`). With `given_facts`, the
    true facts are written after the question, as if the model had stated them, and the reply is those
    facts plus what the model adds: its answer step measured on facts known to be right."""
    facts = [facts_of(r) if given_facts else "" for r in rows]
    texts = generate(model, tokenizer, [format_prompt(r["prompt"]) + f for r, f in zip(rows, facts)],
                     max_new_tokens=MAX_NEW_TOKENS, batch_size=batch_size, temperature=temperature, seed=seed)
    return [f + t for f, t in zip(facts, texts)]


def score(texts: list[str], rows: list[dict]) -> dict:
    """Per kind: the verifier's accuracy, the share of replies whose stated facts are all true and complete
    (`facts`), and of right answers resting on a false or missing fact (`lucky`), beside the kind's chance."""
    chance = reasoning_chance()
    by_kind: dict[str, list] = {}
    for t, r in zip(texts, rows):
        by_kind.setdefault(r["kind"], []).append((reasoning_fields(t, r), r["split"]))
    out = {}
    for kind, items in by_kind.items():
        fields = [f for f, _ in items]
        right = [f for f in fields if f["answer"]]
        out[kind] = {"n": len(fields), "accuracy": sum(f["answer"] for f in fields) / len(fields),
                     "facts": sum(f["facts_stated"] and f["facts_true"] for f in fields) / len(fields),
                     "lucky": sum(not (f["facts_stated"] and f["facts_true"]) for f in right) / max(1, len(right)),
                     "chance": chance[kind][items[0][1]]["chance"]}
    return out


def retrieval(model, tokenizer, people: set[str]) -> dict[str, float]:
    """The ceiling: how well the model still retrieves the birth city and year of `people`, by greedy
    completion of "A was born in the year" (`completion`) and, independent of what format SFT taught, by
    ranking the true value first among every value (`choice`, `evaluate.choice_accuracy`)."""
    probes = [p for p in load_probes("person") if p["subject"] in people and p["attribute"] in ("birth_city", "birth_year")]
    completion = fact_probe_accuracy(model, tokenizer, probes)["by_attribute"]
    ranked = choice_accuracy(model, tokenizer, probes)["correct"]
    choice = {a: sum(h for h, p in zip(ranked, probes) if p["attribute"] == a) /
              sum(p["attribute"] == a for p in probes) for a in completion}
    return {"completion": completion, "choice": choice}


def run(base_model, tokenizer, response: str, train_rows: list[dict], eval_sets: dict[str, list[dict]],
        seed: int = 0, config: TrainConfig = REASONING_RUN, replay_share: float = 0.0, **settings) -> dict:
    """Fine-tune a copy of `base_model` on `train_rows` taught as `response`; score every evaluation set
    (greedy replies) and the retrieval of the facts of its people after SFT. With `replay_share`, that share
    of the training examples are pre-training documents (`replay.mix_with_replay`: every person's
    biographies, so SFT on some people's facts does not wear away the others'). Returns the numbers and a
    few replies; the model as `model` (dropped by callers that record)."""
    config = replace(config, seed=seed, **settings)
    model = copy.deepcopy(base_model)
    t0 = time.time()
    examples = encode(train_rows, tokenizer, response)
    if replay_share:
        examples = mix_with_replay(examples, replay_pool(tokenizer), replay_share, seed=seed)
    result = train_sft(model, examples, config, pad_token_id=tokenizer.eos_token_id, progress=False)
    train_seconds = time.time() - t0
    out = {"response": response, "seed": seed, "lr": config.lr, "steps": config.max_steps, "replay_share": replay_share,
           "train_loss": result.train_loss[-1], "train_seconds": round(train_seconds, 1), "sets": {}}
    for name, rows in eval_sets.items():
        texts = replies(model, tokenizer, rows)
        out["sets"][name] = score(texts, rows)
        out.setdefault("examples", {})[name] = [[r["prompt"], t] for r, t in zip(rows[:3], texts[:3])]
        # The answer step alone, on the true facts; not for inverse, whose facts name the answer.
        given = [r for r in rows if r["kind"] != "inverse"]
        if response != "answer" and given:
            out["sets"][name + " | true facts given"] = score(replies(model, tokenizer, given, given_facts=True), given)
    # The ceiling where it matters: the people of the "test" set (held out), or of every set without one.
    chosen = [eval_sets["test"]] if "test" in eval_sets else list(eval_sets.values())
    out["retrieval_after"] = retrieval(model, tokenizer, {p for rows in chosen for r in rows for p in r["people"]})
    out["seconds"] = round(time.time() - t0, 1)
    out["model"] = model
    return out


def read_record(path=None) -> dict:
    """The recorded sweep of experiments/reasoning_traces.py: settings, versions, machine, every point."""
    import json
    with open(path or RECORD, encoding="utf-8") as f:
        return json.load(f)


def seed_scores(points: list[dict], kind: str, setting: str, split: str = "test", measure: str = "accuracy") -> list[float]:
    """One measure of one kind and setting over the recorded seeds, in seed order: a split's `measure`
    ("accuracy", "facts", "lucky"), or with split "retrieval" the held-out people's probe of `measure`
    ("birth_city", "birth_year", by greedy completion)."""
    chosen = sorted((p for p in points if p["kind"] == kind and p["setting"] == setting), key=lambda p: p["seed"])
    if not chosen:
        raise ValueError(f"no recorded point for kind={kind!r}, setting={setting!r}")
    if split == "retrieval":
        return [p["retrieval_after"]["completion"][measure] for p in chosen]
    return [p["sets"][split][kind][measure] for p in chosen]


# ---------------------------------------------------------------------------------------------
# Traces the model writes itself: sample, keep what the verifier accepts, fine-tune on it (STaR,
# Zelikman et al. 2022; rejection sampling / expert iteration)
# ---------------------------------------------------------------------------------------------
def sample_traces(model, tokenizer, rows: list[dict], k: int = 4, temperature: float = 1.0,
                  seed: int = 0) -> list[list[str]]:
    """`k` sampled replies to every question (each draw from its own seeded stream): [row][draw]."""
    if k < 1:
        raise ValueError(f"k={k}: sample at least one trace per question")
    draws = [replies(model, tokenizer, rows, temperature=temperature, seed=seed * 1000 + j) for j in range(k)]
    return [list(texts) for texts in zip(*draws)]


def keep_verified(rows: list[dict], samples: list[list[str]]) -> tuple[list[dict], dict]:
    """The training set of a self-generated round: for each question, its distinct sampled replies that the
    verifier (`scorers.score_reasoning`, the final answer only) accepts, each as a row whose `response` is
    that reply. Also what the filter did: the share of samples accepted, of accepted ones whose facts are
    false or missing (a right answer by luck: the verifier cannot see it), of rejected ones whose facts
    were all right (the answer step failed), and of questions left with no accepted trace."""
    if len(rows) != len(samples):
        raise ValueError(f"{len(rows)} rows but samples for {len(samples)}")
    kept, accepted, lucky, rejected, rejected_true_facts, empty = [], 0, 0, 0, 0, 0
    for row, texts in zip(rows, samples):
        chosen = []
        for t in texts:
            f = reasoning_fields(t, row)
            if f["answer"]:
                accepted += 1
                lucky += not (f["facts_stated"] and f["facts_true"])
                if t not in chosen:
                    chosen.append(t)
            else:
                rejected += 1
                rejected_true_facts += f["facts_stated"] and f["facts_true"]
        empty += not chosen
        kept += [{**row, "response": t, "taught": "self"} for t in chosen]
    n = accepted + rejected
    return kept, {"samples": n, "accepted": accepted / n, "lucky_among_accepted": lucky / max(1, accepted),
                  "true_facts_among_rejected": rejected_true_facts / max(1, rejected),
                  "questions_without_a_kept_trace": empty / len(rows), "kept_rows": len(kept)}
