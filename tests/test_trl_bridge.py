"""TRL's SFTTrainer against the course: the same tokens, mask, loss and schedule (course_utils/trl_bridge.py)."""
import pytest
import torch

pytest.importorskip("trl")

from course_utils import trl_bridge  # noqa: E402
from course_utils.chat_template import encode_conversation  # noqa: E402
from course_utils.data import format_prompt  # noqa: E402
from course_utils.encode import collate, encode_example  # noqa: E402
from course_utils.loss import sft_loss  # noqa: E402
from course_utils.train import TrainConfig, train_sft  # noqa: E402

ROWS = [
    {"prompt": "Where does Ada Torwick live?", "response": "Ada Torwick lives in Marrow Bay."},
    {"prompt": "My desk lamp arrived broken. What now?", "response": "Sorry about the lamp! We will send a new one today."},
    {"prompt": "Hi", "response": "Hello! How can I help?"},
    {"prompt": "When was Bram Selley born, and where?", "response": "Bram Selley was born on 3 May 1961 in Ostrava Vale."},
]


def test_a_row_as_messages_encodes_like_a_course_example(tokenizer):
    for row in ROWS:
        messages = trl_bridge.row_to_messages(row)
        assert [m["role"] for m in messages] == ["user", "assistant"]
        by_hand = encode_example(tokenizer, format_prompt(row["prompt"]), row["response"])
        as_chat = encode_conversation(tokenizer, messages)
        assert as_chat["input_ids"] == by_hand["input_ids"] and as_chat["response_mask"] == by_hand["response_mask"]


@pytest.fixture
def trainer(tiny_model, tokenizer, tmp_path):
    config = trl_bridge.sft_config(tmp_path, TrainConfig(max_steps=4, batch_size=len(ROWS), lr=1e-3, precision="float32"))
    return trl_bridge.make_trainer(tiny_model, tokenizer, [trl_bridge.row_to_messages(r) for r in ROWS], config)


def test_trl_builds_the_course_tokens_and_mask_and_computes_sft_loss(base, tokenizer, tmp_path):
    # The trained base model: its per-token losses differ from token to token (a random model's are all
    # near log V), so token and sequence normalisation give clearly different numbers on this batch.
    import copy
    config = trl_bridge.sft_config(tmp_path, TrainConfig(max_steps=1, batch_size=len(ROWS), lr=1e-3, precision="float32"))
    trainer = trl_bridge.make_trainer(copy.deepcopy(base[0]), tokenizer, [trl_bridge.row_to_messages(r) for r in ROWS],
                                      config)
    batch, count = trl_bridge.first_batch(trainer)
    encoded = {tuple(e["input_ids"]): e for e in (encode_conversation(tokenizer, trl_bridge.row_to_messages(r))
                                                   for r in ROWS)}
    rows = [encoded[tuple(ids[a.bool()].tolist())] for ids, a in zip(batch["input_ids"], batch["attention_mask"])]
    course = collate(rows, pad_token_id=tokenizer.eos_token_id)
    mask = trl_bridge.labels_to_mask(batch["labels"])
    assert torch.equal(course["input_ids"], batch["input_ids"]) and torch.equal(course["response_mask"], mask)
    assert int(count) == int(mask[:, 1:].sum()), "TRL divides by the target tokens after the shift"

    model = trainer.model.eval()
    with torch.no_grad():
        trl = trl_bridge.trl_loss(trainer, batch, count).item()
        logits = model(input_ids=course["input_ids"], attention_mask=course["attention_mask"]).logits
        ours = sft_loss(logits, course["input_ids"], course["response_mask"]).item()
        per_sequence = sft_loss(logits, course["input_ids"], course["response_mask"], normalize="sequences").item()
    assert abs(trl - ours) < 1e-5, (trl, ours)
    assert abs(trl - per_sequence) > 1e-3, "the test batch should tell token from sequence normalisation apart"


def test_every_training_field_has_its_sft_config_option(tmp_path):
    """A run set on every TrainConfig field reaches the SFTConfig: each non-default value shows up."""
    config = TrainConfig(max_steps=40, batch_size=3, grad_accum=2, lr=3e-3, warmup_steps=4, min_lr_ratio=0.2,
                         weight_decay=0.1, max_grad_norm=0.5, precision="float32", layout="packed", log_every=5,
                         eval_every=20, seed=7, compile_model=True)
    options = trl_bridge.sft_options(config)
    assert options["max_steps"] == 40 and options["per_device_train_batch_size"] == 3
    assert options["gradient_accumulation_steps"] == 2 and options["learning_rate"] == 3e-3
    assert options["warmup_steps"] == 4 and options["lr_scheduler_kwargs"] == {"min_lr_rate": 0.2}
    assert options["weight_decay"] == 0.1 and options["max_grad_norm"] == 0.5
    assert options["bf16"] is False and options["fp16"] is False and options["packing"] is True
    assert options["logging_steps"] == 5 and options["eval_steps"] == 20 and options["eval_strategy"] == "steps"
    assert options["seed"] == options["data_seed"] == 7 and options["torch_compile"] is True
    assert trl_bridge.sft_options(TrainConfig(max_steps=40, shuffle=False))["train_sampling_strategy"] == "sequential"
    assert trl_bridge.sft_options(TrainConfig(max_steps=40, layout="sorted"))["train_sampling_strategy"] == "group_by_length"
    assert trl_bridge.sft_options(TrainConfig(max_steps=40))["warmup_steps"] == 2, "None means 5% of the steps"
    with pytest.raises(ValueError, match="max_steps"):
        trl_bridge.sft_options(TrainConfig(epochs=2))


def test_the_schedule_is_train_sfts(trainer, tiny_model, tokenizer):
    """Both loops take transformers' warm-up + cosine schedule: the same learning rate at every step."""
    steps = trainer.args.max_steps
    trainer.create_optimizer_and_scheduler(num_training_steps=steps)
    got = []
    for _ in range(steps):
        got.append(trainer.lr_scheduler.get_last_lr()[0])
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    data = [encode_example(tokenizer, format_prompt(r["prompt"]), r["response"]) for r in ROWS]
    run = train_sft(tiny_model, data, pad_token_id=tokenizer.eos_token_id, max_steps=steps, batch_size=len(ROWS),
                    lr=1e-3, log_every=1, progress=False, device="cpu")
    assert got == pytest.approx(run.lr, rel=1e-9)
    assert got[0] == 0.0 and max(got) == pytest.approx(1e-3), "a linear warm-up from 0 (one step: 5% of 4)"


def test_a_conversation_without_an_assistant_token_is_refused(tiny_model, tokenizer, tmp_path):
    config = trl_bridge.sft_config(tmp_path, TrainConfig(max_steps=1, batch_size=2, lr=1e-3, precision="float32"))
    no_reply = [{"role": "user", "content": "Hello?"}]
    with pytest.raises(RuntimeError, match="no assistant tokens"):
        trl_bridge.make_trainer(tiny_model, tokenizer, [no_reply, trl_bridge.row_to_messages(ROWS[0])], config)


def test_labels_to_mask():
    labels = torch.tensor([[-100, -100, 5, 7, -100], [-100, 3, 4, 5, 6]])
    assert trl_bridge.labels_to_mask(labels).tolist() == [[0, 0, 1, 1, 0], [0, 1, 1, 1, 1]]


def test_same_batches_give_the_same_weights_as_train_sft(tiny_model, tokenizer, tmp_path):
    """One batch holds the whole set, so the batch order cannot differ: three steps of each loop must land on
    the same weights (up to float rounding, which Adam's division by sqrt(v) amplifies a little)."""
    import copy

    conversations = [trl_bridge.row_to_messages(r) for r in ROWS]
    start = copy.deepcopy(tiny_model)
    ours, theirs = copy.deepcopy(tiny_model), copy.deepcopy(tiny_model)
    train_sft(ours, [encode_conversation(tokenizer, c) for c in conversations], pad_token_id=tokenizer.eos_token_id,
              max_steps=3, batch_size=len(ROWS), lr=1e-2, warmup_steps=0, device="cpu", progress=False,
              precision="float32")     # float32 in both loops, also where COURSE_CPU_BF16=1 turns the course's bf16 on
    config = trl_bridge.sft_config(tmp_path, TrainConfig(max_steps=3, batch_size=len(ROWS), lr=1e-2, warmup_steps=0,
                                                         precision="float32"))
    trl_bridge.make_trainer(theirs, tokenizer, conversations, config).train()
    gap = max((a - b).abs().max().item() for a, b in zip(ours.parameters(), theirs.parameters()))
    moved = max((a - b).abs().max().item() for a, b in zip(ours.parameters(), start.parameters()))
    assert moved > 1e-2 and gap < 1e-2 * moved, (gap, moved)


# ---- notebook 07's demonstrations of what the installed TRL and transformers do ----

def _conversations():
    return [trl_bridge.row_to_messages(r) for r in ROWS]


def test_same_examples_in_the_same_order_give_the_same_curve(tiny_model, tokenizer, tmp_path):
    """Two batches per epoch, so the order matters: with shuffle=False (TRL: the sequential sampler) both loops
    see the same batches and log the same loss at every step."""
    import copy

    run = TrainConfig(max_steps=4, batch_size=2, lr=1e-2, warmup_steps=0, shuffle=False, log_every=1,
                      precision="float32")
    ours = train_sft(copy.deepcopy(tiny_model), [encode_conversation(tokenizer, c) for c in _conversations()], run,
                     pad_token_id=tokenizer.eos_token_id, device="cpu", progress=False)
    trainer = trl_bridge.make_trainer(copy.deepcopy(tiny_model), tokenizer, _conversations(),
                                      trl_bridge.sft_config(tmp_path, run))
    trainer.train()
    steps, losses = trl_bridge.logged_losses(trainer)
    assert steps == ours.step == [1, 2, 3, 4]
    assert max(abs(a - b) for a, b in zip(losses, ours.train_loss)) < 1e-4, (losses, ours.train_loss)
    assert abs(losses[0] - losses[1]) > 1e-2, "the two batches should differ, or the order is not tested"


def test_without_dropout_makes_train_mode_deterministic(tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=32, n_embd=16, n_layer=1, n_head=2)).train()
    ids = torch.randint(1, 100, (2, 12))
    assert trl_bridge.dropout_rates(model) == {0.1}
    assert not torch.equal(model(input_ids=ids).logits, model(input_ids=ids).logits), "dropout should draw"
    assert trl_bridge.without_dropout(model) is model and trl_bridge.dropout_rates(model) == {0.0}
    assert torch.equal(model(input_ids=ids).logits, model(input_ids=ids).logits)


class _Records(__import__("logging").Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def sft_log():
    """Every message that reaches TRL's SFT trainer logger's own handlers (after its filters)."""
    import logging

    logger, records = logging.getLogger(trl_bridge.TRL_SFT_LOGGER), _Records()
    logger.addHandler(records)
    yield logger, records.messages
    logger.removeHandler(records)


def test_the_packing_warning_filter_is_narrow(sft_log):
    import logging

    logger, seen = sft_log
    trl_bridge.quiet_packing_warnings()
    trl_bridge.quiet_packing_warnings()          # idempotent: one filter
    assert sum(isinstance(f, trl_bridge._DropPackingWarnings) for f in logger.filters) == 1
    before = trl_bridge.dropped_packing_warnings()
    for text in trl_bridge.PACKING_WARNINGS:
        logger.warning("[RANK 0] " + text + " variant. Using other implementations ...")
    logger.warning("You are using a per_device_train_batch_size of 1 with padding-free training.")
    assert seen == ["You are using a per_device_train_batch_size of 1 with padding-free training."]
    assert trl_bridge.dropped_packing_warnings() == before + 2
    other, elsewhere = logging.getLogger("trl.trainer.grpo_trainer"), _Records()
    other.addHandler(elsewhere)
    try:
        other.warning(trl_bridge.PACKING_WARNINGS[0])      # the same words from another logger still show
    finally:
        other.removeHandler(elsewhere)
    assert elsewhere.messages == [trl_bridge.PACKING_WARNINGS[0]]


def test_a_packed_row_from_trl_keeps_its_examples_apart(tiny_model, tokenizer, tmp_path, sft_log):
    """TRL's padding-free row (restarting position_ids, no attention mask) under SDPA: each example's loss in
    the row equals its loss alone; with positions running straight through, the later examples' do not."""
    _, seen = sft_log
    config = trl_bridge.sft_config(tmp_path, TrainConfig(max_steps=1, batch_size=1, layout="packed", shuffle=False,
                                                         precision="float32"), max_length=128)
    trainer = trl_bridge.make_trainer(tiny_model, tokenizer, _conversations(), config)
    assert not any(text in m for m in seen for text in trl_bridge.PACKING_WARNINGS)
    batch, _ = trl_bridge.first_batch(trainer)
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1
    positions, ids, labels = batch["position_ids"][0], batch["input_ids"], batch["labels"][0]
    starts = (positions == 0).nonzero().flatten().tolist() + [positions.numel()]
    assert len(starts) - 1 >= 3, "the row should hold several examples"
    model = tiny_model.eval()
    with torch.no_grad():
        inside = model(input_ids=ids, position_ids=batch["position_ids"], use_cache=False).logits
        running = model(input_ids=ids, use_cache=False).logits
        moved = []
        for s, e in zip(starts[:-1], starts[1:]):
            mask = trl_bridge.labels_to_mask(labels[s:e])[None]
            alone = sft_loss(model(input_ids=ids[:, s:e], use_cache=False).logits, ids[:, s:e], mask)
            assert abs(sft_loss(inside[:, s:e], ids[:, s:e], mask) - alone) < 1e-4
            moved.append(abs(sft_loss(running[:, s:e], ids[:, s:e], mask) - alone).item())
    assert moved[0] < 1e-4 and max(moved[1:]) > 1e-3, moved


def test_a_row_without_target_adds_nothing_to_trls_step(trainer):
    batch, count = trl_bridge.first_batch(trainer)
    emptied = {k: v.clone() for k, v in batch.items()}
    emptied["labels"][1] = -100
    mask = trl_bridge.labels_to_mask(batch["labels"])
    assert int(trl_bridge.count_targets(trainer, emptied)) == int(count) - int(mask[1, 1:].sum())
    mask[1] = 0
    model = trainer.model.eval()
    with torch.no_grad():
        theirs = trl_bridge.trl_loss(trainer, emptied, trl_bridge.count_targets(trainer, emptied)).item()
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        ours = sft_loss(logits, batch["input_ids"], mask).item()
    assert abs(theirs - ours) < 1e-5, (theirs, ours)

    nothing = {k: v.clone() for k, v in batch.items()}
    nothing["labels"][:] = -100
    assert int(trl_bridge.count_targets(trainer, nothing)) == 0
    model.zero_grad(set_to_none=True)
    trl_bridge.trl_loss(trainer, nothing, trl_bridge.count_targets(trainer, nothing)).backward()
    assert max(p.grad.abs().max().item() for p in model.parameters()) == 0.0, "a step with no target moves nothing"


def test_prompt_completion_rows_get_the_course_tokens_and_mask(tiny_model, tokenizer, tmp_path):
    data = trl_bridge.prompt_completion(ROWS, tokenizer)
    config = trl_bridge.sft_config(tmp_path, TrainConfig(max_steps=1, batch_size=len(ROWS)), assistant_only_loss=False)
    trainer = trl_bridge.make_trainer(tiny_model, tokenizer, data, config)
    assert config.completion_only_loss is None and trainer.completion_only_loss is True
    for row, ids, labels in zip(ROWS, trainer.train_dataset["input_ids"], trainer.train_dataset["labels"]):
        mine = encode_example(tokenizer, format_prompt(row["prompt"]), row["response"])
        assert ids == mine["input_ids"] and [int(x != -100) for x in labels] == mine["response_mask"]


def test_a_template_without_generation_markers_is_refused(tiny_model, tokenizer, tmp_path):
    import re

    from course_utils.chat_template import CHAT_TEMPLATE

    no_markers = re.sub(r"\{%-?\s*(end)?generation\s*-?%\}", "", CHAT_TEMPLATE)
    assert "endgeneration" not in no_markers
    config = trl_bridge.sft_config(tmp_path, TrainConfig(max_steps=1, batch_size=2))
    with pytest.raises(ValueError, match="not training-compatible"):
        trl_bridge.make_trainer(tiny_model, tokenizer, _conversations(), config, chat_template=no_markers)
