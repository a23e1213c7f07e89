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


def test_trl_builds_the_course_tokens_and_mask_and_computes_sft_loss(trainer, tokenizer):
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
    in_order = TrainConfig(max_steps=40, shuffle=False)
    if trl_bridge.checkpointing_option() == "activation_checkpointing":     # transformers 5
        assert trl_bridge.sft_options(in_order)["train_sampling_strategy"] == "sequential"
    else:
        with pytest.raises(ValueError, match="transformers 5"):
            trl_bridge.sft_options(in_order)
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
