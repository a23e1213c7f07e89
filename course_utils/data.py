"""The course's corpora and SFT sets as `datasets.Dataset`, and the prompt template SFT teaches.

Pre-training data is raw text (`{"id", "text"}`); SFT data is pairs (`{"id", "task", "split",
"prompt", "response", ...}` plus the facts a scorer checks), or conversations (`support_chat`: a
`messages` list of `{"role", "content"}`, the way Hugging Face datasets store chats). All load with
`datasets`' JSON builder, so notebooks get real `Dataset` objects (map, filter, select, to_pandas) and
files are cached once.
"""
from __future__ import annotations

import json
from pathlib import Path

import datasets

from .env import data_dir

SFT_TASKS = ("qa", "support", "contracts", "support_tainted", "support_chat", "qa_unknown", "reasoning")

# The instruction template. The base model never saw "### Response:" in pre-training; teaching it that
# an answer (and then <|endoftext|>) follows is part of what SFT does.
PROMPT_TEMPLATE = "### Instruction:\n{prompt}\n\n### Response:\n"


def format_prompt(prompt: str) -> str:
    """Wrap a raw user prompt in the instruction template the fine-tuned model expects."""
    return PROMPT_TEMPLATE.format(prompt=prompt)


def _quiet():
    # datasets prints progress bars on first load; the notebooks compare outputs, so keep them off.
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()


def _load_json(files: dict[str, str]) -> datasets.DatasetDict:
    _quiet()
    return datasets.load_dataset("json", data_files=files)


def splits(task: str) -> list[str]:
    folder = data_dir() / "sft" / task
    if task not in SFT_TASKS or not folder.is_dir():
        raise ValueError(f"unknown SFT task {task!r}; choose one of {SFT_TASKS}")
    return sorted(p.stem for p in folder.glob("*.jsonl"))


def load_sft(task: str, split: str | None = None):
    """One SFT task as a DatasetDict of its splits, or one split as a Dataset.

    Every row is validated: a row without a non-empty prompt and response raises an error naming
    the file and line, rather than turning into an empty training example later.
    """
    names = splits(task)
    if split is not None and split not in names:
        raise ValueError(f"task {task!r} has no split {split!r}; it has {names}")
    chosen = [split] if split else names
    files = {s: str(data_dir() / "sft" / task / f"{s}.jsonl") for s in chosen}
    for path in files.values():
        validate_sft_file(path)
    dsd = _load_json(files)
    return dsd[split] if split else dsd


def validate_sft_file(path: str | Path) -> None:
    """Raise ValueError naming the first bad line of an SFT JSONL file: a row needs a non-empty prompt
    and response, or a `messages` conversation that SFT can train on."""
    from .chat_template import check_conversation

    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}, line {lineno}: not valid JSON ({e.msg})") from None
            if "messages" in row:
                try:
                    check_conversation(row["messages"])
                except ValueError as e:
                    raise ValueError(f"{path}, line {lineno} (id={row.get('id')!r}): {e}") from None
                continue
            for key in ("prompt", "response"):
                if not isinstance(row.get(key), str):
                    raise ValueError(f"{path}, line {lineno} (id={row.get('id')!r}): missing {key!r} field")
                if not row[key].strip():
                    raise ValueError(f"{path}, line {lineno} (id={row.get('id')!r}): empty {key!r}")


def as_messages(row: dict) -> list[dict]:
    """A row as a conversation: its `messages`, or a (prompt, response) pair as one user turn and one
    assistant turn. The chat template adds the same headers `format_prompt` does, so a pair encodes to
    the tokens of `encode_example(tokenizer, format_prompt(prompt), response)` either way."""
    if row.get("messages"):
        return list(row["messages"])
    return [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["response"]}]


def load_pretraining(corpus: str = "augmented") -> datasets.Dataset:
    """The raw pre-training corpus: 'augmented' (paraphrased, shuffled biographies), 'single' (one
    biography per person, the name once) or 'single_fullname' (the same with the name in every sentence)."""
    path = data_dir() / "pretrain" / f"{corpus}.jsonl"
    if not path.exists():
        raise ValueError(f"unknown corpus {corpus!r}; choose one of {_choices(path.parent, '*.jsonl')}")
    return _load_json({"train": str(path)})["train"]


def _choices(folder: Path, pattern: str) -> list[str]:
    return sorted(p.stem for p in folder.glob(pattern))


def load_eval(name: str) -> datasets.Dataset:
    """Evaluation sets: 'fact_probes', 'in_biography_probes' (for the single-biography model, notebook 05)
    or 'heldout_text'."""
    path = data_dir() / "eval" / f"{name}.jsonl"
    if not path.exists():
        raise ValueError(f"unknown evaluation set {name!r}; choose one of {_choices(path.parent, '*.jsonl')}")
    return _load_json({"test": str(path)})["test"]


def load_world(table: str) -> list[dict]:
    """World tables as plain rows: 'people', 'places', 'shop_policy' or 'unknown_people' (people of the
    world whom no pre-training document mentions; `heldout` True: never in any SFT set either)."""
    path = data_dir() / "world" / f"{table}.jsonl"
    if not path.exists():
        raise ValueError(f"unknown world table {table!r}; choose one of {_choices(path.parent, '*.jsonl')}")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def load_vocabulary(key: str | None = None):
    """What the world's rows do not list on their own (data/world/vocabulary.json), as the generator wrote
    it: 'attributes' (of a person, in biography order), 'values' (every value each attribute can take),
    'countries' and 'city_specialities' (the answers place questions choose from), 'jurisdictions' (every
    governing law a contract can name), 'qa_train_phrasings' (how many question wordings per attribute QA
    training uses; the rest are held out) and 'taint_kinds'. The whole dict, or the entry `key`."""
    with open(data_dir() / "world" / "vocabulary.json", encoding="utf-8") as f:
        vocabulary = json.load(f)
    if key is None:
        return vocabulary
    if key not in vocabulary:
        raise ValueError(f"unknown vocabulary key {key!r}; choose one of {sorted(vocabulary)}")
    return vocabulary[key]


def load_undesirable_replies() -> dict[str, dict]:
    """Undesirable replies written in advance, one for every clean row of `support_tainted`'s training
    split, keyed by the row's id: {"id", "taint" (rude, leak or overpromise), "response"}. They live in
    the task's `pool/` folder, so they are no split of their own."""
    path = data_dir() / "sft" / "support_tainted" / "pool" / "undesirable_replies.jsonl"
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return {r["id"]: r for r in rows}


TAINT_POOLS = ("train", "validation", "detector")


def load_taint_wordings(pool: str | None = None) -> list[dict]:
    """The wordings undesirable support replies are written from (data/sft/support_tainted/pool/
    wordings.jsonl): rows {"kind", "index", "pool", "template"}, a template holding the policy reply as
    {good}. Pools share no wording: "train" wrote the training taint, "validation" the validation split's,
    and "detector" is what notebook 06's detector is built from. All wordings, or those of `pool`."""
    return _pool_rows("support_tainted/pool/wordings.jsonl", pool, TAINT_POOLS)


def _pool_rows(path_in_sft: str, pool: str | None, pools: tuple) -> list[dict]:
    """The rows of a wordings file under data/sft/, all of them or those of `pool` (one of `pools`)."""
    if pool is not None and pool not in pools:
        raise ValueError(f"pool={pool!r}: choose one of {pools} (or None for every wording)")
    with open(data_dir() / "sft" / path_in_sft, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if pool is None or r["pool"] == pool]


UNKNOWN_QA_SPLITS = ("train", "validation", "test_people")
ABSTENTION_POOLS = ("train", "detector")


def load_unknown_qa(split: str, abstain: bool = False) -> list[dict]:
    """Questions about the world's unknown people (`load_world("unknown_people")`: no pre-training document
    mentions them), as plain rows laid out like the `qa` task's: "train" and "validation" ask about the
    people SFT may be taught about (validation in a sixth wording), "test_people" about the 25 never in
    any SFT set. `response` states the person's generated value, a fact the base model cannot know; with
    `abstain`, `response` is the row's "I don't know" reply instead (its `abstention` field) and
    `taught` says which of the two the row teaches."""
    if split not in UNKNOWN_QA_SPLITS:
        raise ValueError(f"unknown-people QA has no split {split!r}; choose one of {UNKNOWN_QA_SPLITS}")
    rows = load_sft("qa_unknown", split).to_list()
    for r in rows:
        r["taught"] = "abstention" if abstain else "fact"
        if abstain:
            r["response"] = r["abstention"]
    return rows


def load_abstention_wordings(pool: str | None = None) -> list[dict]:
    """The "I don't know" templates of unknown-people QA (data/sft/qa_unknown/pool/abstentions.jsonl): rows
    {"pool", "index", "template"}, a template holding the name as {n} and the asked fact as {what}. SFT rows
    use the "train" pool only; "detector" wordings are for testing an abstention detector on replies no
    training example worded. All wordings, or those of `pool`."""
    return _pool_rows("qa_unknown/pool/abstentions.jsonl", pool, ABSTENTION_POOLS)


REASONING_SPLITS = ("train", "validation", "test", "test_pairs")
REASONING_KINDS = ("compare_year", "same_city", "even_year", "inverse")
REASONING_RESPONSES = ("answer", "trace")


def load_reasoning(split: str, kinds=None, response: str = "answer") -> list[dict]:
    """Questions whose answer needs stored facts (notebook 08), as plain rows: compare_year ("Was A born
    before B?"), same_city, even_year (yes/no) and inverse ("Who was born in Veralon in 1987?", a name).
    Splits: "train", "validation", "test" (the world's held-out people, never in QA training) and
    "test_pairs" (training people in pairs no training question asks about; comparisons only). Every row
    has the answer alone (`answer_only`) and a worked solution (`trace`: the facts the answer rests on,
    then the same final sentence); `response` is the one a run trains on, and `taught` says which."""
    if split not in REASONING_SPLITS:
        raise ValueError(f"split={split!r}: choose one of {REASONING_SPLITS}")
    if response not in REASONING_RESPONSES:
        raise ValueError(f"response={response!r}: choose one of {REASONING_RESPONSES}")
    kinds = REASONING_KINDS if kinds is None else ((kinds,) if isinstance(kinds, str) else tuple(kinds))
    unknown = [k for k in kinds if k not in REASONING_KINDS]
    if unknown:
        raise ValueError(f"kinds={list(kinds)}: {unknown} unknown; choose from {REASONING_KINDS}")
    rows = [r for r in load_sft("reasoning", split).to_list() if r["kind"] in kinds]
    for r in rows:
        r["answer_only"] = r["response"]
        r["response"] = r["trace"] if response == "trace" else r["answer_only"]
        r["taught"] = response
    return rows


def reasoning_chance() -> dict:
    """Per kind and split, the number of questions and the accuracy of answering without the facts
    (data/sft/reasoning/kinds.json: the commoner answer for yes/no kinds, a random person for inverse)."""
    with open(data_dir() / "sft" / "reasoning" / "kinds.json", encoding="utf-8") as f:
        return json.load(f)["chance"]
