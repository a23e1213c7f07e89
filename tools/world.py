"""The world generator: writes every file of data/ from the people, places, shop and contracts.

    python -m tools.world --out data      # the shipped copy; a test checks data/ is exactly this output

The world's parts live in `world_people`, `world_shop` and `world_contracts`; this module builds the
pre-training corpora from all of them and writes the files. Runtime code (`course_utils`) never imports
the generator: it reads what this writes, including `world/vocabulary.json`, the lists a scorer needs
(every value an attribute can take, every jurisdiction, ...).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .world_contracts import COMPANY_HEADS, COMPANY_TAILS, JURISDICTIONS, contract, contract_set
from .world_people import (ATTRIBUTES, BIOS_PER_PERSON, CITIES, COUNTRIES, QA_TRAIN_PHRASINGS, SEED, VALUES,
                           Person, abstention_wordings, biography, fact_probes, in_biography_probes, make_people,
                           make_unknown_people, place_description, qa_set, rng_for, single_biography,
                           unknown_qa_set)
from .world_reasoning import kinds_table, reasoning_set
from .world_shop import (POLICY, SHOP, TAINT_KINDS, shop_article, support_conversations, support_sets,
                         support_reference, support_taint_pool, taint_wordings,
                         tainted_validation)


def pretraining_corpus(people: list[Person], seed: int, augmented: bool, full_name: bool = False) -> list[dict]:
    """Unlabelled documents. Augmented: several paraphrased, sentence-shuffled biographies per person.
    Single: one biography per person that names the person once (the paper's bioS single, notebook 05);
    with `full_name`, the same biography with the name in every sentence instead of "he"/"she"."""
    if augmented and full_name:
        raise ValueError("full_name applies to the single-biography corpus only (augmented=False)")
    # The full-name twin draws from the single corpus's stream: the same documents in the same order, so
    # the two corpora differ only in the words that refer to the person.
    rng = rng_for(seed, "pretrain-augmented" if augmented else "pretrain-single")
    docs = []
    for p in people:
        # Every person's facts appear at least once in the canonical wording, so a fact probe always
        # asks for a sentence the model has read; the augmented corpus adds paraphrases around it.
        if augmented:
            docs.append(biography(p, rng, canonical=True))
            docs += [biography(p, rng) for _ in range(BIOS_PER_PERSON - 1)]
        else:
            docs.append(" ".join(single_biography(p, full_name)))
    # The rest of the world is identical in both corpora, so the twins differ only in the biographies.
    rest = rng_for(seed, "pretrain-world")
    docs += [place_description(c, rest, canonical=(k % 3 == 0)) for c in CITIES for k in range(6)]
    docs += [shop_article(rest) for _ in range(30)]
    docs += [contract(rest, heldout=False)[0] for _ in range(60)]   # a third of the tokens at 150: too many
    rng.shuffle(docs)
    prefix = "aug" if augmented else "single-fullname" if full_name else "single"
    return [{"id": f"{prefix}-{i:05d}", "text": t} for i, t in enumerate(docs)]


def heldout_text(people: list[Person], seed: int) -> list[dict]:
    """Fresh wordings of known facts: text the models never saw, for perplexity."""
    rng = rng_for(seed, "heldout-text")
    docs = [biography(p, rng) for p in rng.sample(people, 80)]
    docs += [place_description(c, rng) for c in rng.sample(list(CITIES), 12)]
    docs += [shop_article(rng) for _ in range(4)]
    docs += [contract(rng, heldout=False)[0] for _ in range(12)]
    return [{"id": f"heldout-{i:04d}", "text": t} for i, t in enumerate(docs)]


def vocabulary() -> dict:
    """What scorers and experiments need to know about the world beyond its rows: every value an
    attribute can take, the countries and city specialities (answer options of place questions), every
    jurisdiction and company a contract can name, how many QA wordings training uses, the kinds of taint."""
    return {"attributes": ATTRIBUTES, "values": VALUES, "countries": COUNTRIES,
            "city_specialities": sorted({v[1] for v in CITIES.values()}), "jurisdictions": JURISDICTIONS,
            "companies": [f"{h} {t}" for h in COMPANY_HEADS for t in COMPANY_TAILS],
            "qa_train_phrasings": QA_TRAIN_PHRASINGS, "taint_kinds": TAINT_KINDS}


# ---------------------------------------------------------------------------------------------
# Writing data/
# ---------------------------------------------------------------------------------------------
def _write(path: Path, content: list[dict] | dict) -> None:
    """A list of rows as JSON Lines (.jsonl), anything else as one indented JSON document (.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        if path.suffix == ".json":
            f.write(json.dumps(content, ensure_ascii=False, indent=1) + "\n")
            return
        for row in content:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _by_split(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["split"], []).append(r)
    return out


def write_world(out: Path, seed: int = SEED) -> list[Path]:
    """Write every generated file under `out` (the shipped copy is `data/`); return the paths written."""
    out = Path(out)
    people = make_people(seed)
    files: dict[str, list[dict] | dict] = {
        "world/people.jsonl": [{"name": p.name, **{a: p.value(a) for a in ATTRIBUTES}, "heldout": p.heldout}
                               for p in people],
        "world/places.jsonl": [{"city": c, "country": v[0], "known_for": v[1], "water": v[2], "landmark": v[3]}
                               for c, v in CITIES.items()],
        "world/shop_policy.jsonl": [{"shop": SHOP, **POLICY}],
        "world/vocabulary.json": vocabulary(),
        "pretrain/augmented.jsonl": pretraining_corpus(people, seed, augmented=True),
        "pretrain/single.jsonl": pretraining_corpus(people, seed, augmented=False),
        "pretrain/single_fullname.jsonl": pretraining_corpus(people, seed, augmented=False, full_name=True),
        "eval/heldout_text.jsonl": heldout_text(people, seed),
        "eval/fact_probes.jsonl": fact_probes(people),
        "eval/in_biography_probes.jsonl": in_biography_probes(people),
        "eval/in_biography_probes_fullname.jsonl": in_biography_probes(people, full_name=True),
    }
    # People no pre-training document mentions (the corpora above are written from `people` alone).
    unknown = make_unknown_people(people, seed)
    files["world/unknown_people.jsonl"] = [{"name": p.name, **{a: p.value(a) for a in ATTRIBUTES},
                                            "heldout": p.heldout} for p in unknown]
    files["sft/qa_unknown/pool/abstentions.jsonl"] = abstention_wordings()
    support, tainted = support_sets(people, seed)
    # Beside the split, in a folder of its own: every .jsonl directly in a task's folder is a split.
    files["sft/support_tainted/pool/undesirable_replies.jsonl"] = support_taint_pool(tainted, people, seed)
    files["sft/support_tainted/pool/wordings.jsonl"] = taint_wordings()
    tainted += tainted_validation(support, people, seed) + support_reference(people, seed)
    # Questions that need two stored facts (notebook 08); beside the splits, each kind's chance level.
    reasoning = reasoning_set(people, seed)
    files["sft/reasoning/kinds.json"] = kinds_table(reasoning)
    for task, rows in [("qa", qa_set(people, seed)), ("support", support), ("support_tainted", tainted),
                       ("support_chat", support_conversations(people, seed)), ("contracts", contract_set(seed)),
                       ("qa_unknown", unknown_qa_set(unknown, seed)), ("reasoning", reasoning)]:
        for split, split_rows in _by_split(rows).items():
            files[f"sft/{task}/{split}.jsonl"] = split_rows
    written = []
    for rel, content in sorted(files.items()):
        _write(out / rel, content)
        written.append(out / rel)
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Generate the course's world into a data folder.")
    ap.add_argument("--out", type=Path, required=True, help="output folder (the shipped copy is data/)")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    for path in write_world(args.out, args.seed):
        print(path)


if __name__ == "__main__":
    main()
