"""Multi-turn support chats: the shipped data, encoding them for training, replying through the chat
template, and the chat widget's memory."""
import json

import pytest
import torch

from course_utils import models
from course_utils.chat import Chat
from course_utils.chat_template import (CHAT_TEMPLATE, encode_conversation, render_prompt,
                                        template_assistant_mask, with_chat_template)
from course_utils.data import as_messages, format_prompt, load_sft, validate_sft_file
from course_utils.encode import collate, encode_example, encode_sft
from course_utils.env import data_dir
from course_utils.evaluate import generate, prompt_of, reply, task_score
from course_utils.loss import sft_loss
from tools import world_shop


@pytest.fixture(scope="module")
def chats():
    return load_sft("support_chat")


def test_shipped_tokenizers_carry_the_course_chat_template(tokenizer):
    assert tokenizer.chat_template == CHAT_TEMPLATE
    for name in ("tokenizer", *models.LOCAL_MODELS):
        shipped = (data_dir() / "models" / name / "chat_template.jinja").read_text(encoding="utf-8")
        assert shipped == CHAT_TEMPLATE, f"data/models/{name}/chat_template.jinja differs from CHAT_TEMPLATE"


def test_conversations_are_stored_as_messages_with_follow_ups(chats):
    assert {s: len(chats[s]) for s in chats} == world_shop.SUPPORT_CHAT_SIZES
    turns = {len([m for m in row["messages"] if m["role"] == "assistant"]) for row in chats["train"]}
    assert turns == {2, 3}, "conversations have two or three assistant turns"
    for row in chats["test"]:
        messages = row["messages"]
        assert [m["role"] for m in messages[:5]] == ["system", "user", "assistant", "user", "assistant"]
        scored = messages[row["scored_message"]]
        assert scored["role"] == "assistant"
        assert all(fact in scored["content"] for fact in row["required"])
        # The follow-up says "it": the item the right reply names is in the earlier turns, not in it.
        item = next(fact for fact in row["required"] if fact in world_shop.ITEMS) if row["follow_up"] != "shipping_time" else None
        if item:
            assert item in messages[0]["content"] and item not in messages[3]["content"], row["id"]


def test_the_right_follow_up_reply_depends_on_the_order(chats):
    """Two chats with the same follow-up ("cancel it") get opposite answers, set by the order's status."""
    cancels = [r for r in chats["train"] if r["follow_up"] == "cancel"]
    shipped = [r for r in cancels if "status: shipped" in r["messages"][0]["content"]]
    waiting = [r for r in cancels if "status: not shipped yet" in r["messages"][0]["content"]]
    assert shipped and waiting
    assert all("cannot be cancelled" in r["messages"][4]["content"] for r in shipped)
    assert all("cancelled it" in r["messages"][4]["content"] for r in waiting)


def test_held_out_wordings_stay_out_of_training(chats):
    for row in chats["train"]:
        item = row["messages"][0]["content"].split("item: ")[1].split(" |")[0]
        allowed = [m.format(item=item) for m in world_shop.SUPPORT_MESSAGES[row["intent"]][:world_shop.SUPPORT_TRAIN_MESSAGES]]
        assert row["messages"][1]["content"] in allowed, row["id"]
    follow_ups = {r["messages"][3]["content"] for r in chats["train"]}
    for by_status in world_shop.FOLLOW_UPS.values():
        for _, wordings in by_status.values():
            assert wordings[-1] not in follow_ups and set(wordings[:-1]) <= follow_ups


def test_shipped_conversations_course_mask_equals_template_mask(tokenizer, chats):
    """The course's hand-written mask and apply_chat_template's assistant mask pick the same tokens, and
    those decode to exactly the assistant turns, each followed by EOS."""
    rows = chats["validation"].to_list()
    assert any(len(r["messages"]) == 7 for r in rows) and any(len(r["messages"]) == 5 for r in rows)
    for row in rows:
        enc = encode_conversation(tokenizer, row["messages"])
        ids, mask = template_assistant_mask(tokenizer, row["messages"])
        assert (enc["input_ids"], enc["response_mask"]) == (ids, mask), row["id"]
        runs, run = [], []
        for token, m in zip(ids + [None], mask + [0]):
            if m:
                run.append(token)
            elif run:
                runs.append(tokenizer.decode(run))
                run = []
        replies = [m["content"] + tokenizer.eos_token for m in row["messages"] if m["role"] == "assistant"]
        assert runs == replies, row["id"]


def test_encode_sft_takes_conversations_and_pairs_alike(tokenizer, chats):
    conv = encode_sft(chats["validation"].select(range(20)), tokenizer)
    for row in conv:
        enc = encode_conversation(tokenizer, row["messages"])
        assert row["input_ids"] == enc["input_ids"] and row["response_mask"] == enc["response_mask"]
        assert row["length"] == len(row["input_ids"]) <= tokenizer.model_max_length
    pairs = load_sft("support", "validation").select(range(5))
    for row in encode_sft(pairs, tokenizer):
        assert row["input_ids"] == encode_example(tokenizer, format_prompt(row["prompt"]), row["response"])["input_ids"]
        as_chat = encode_conversation(tokenizer, as_messages(row))
        assert (as_chat["input_ids"], as_chat["response_mask"]) == (row["input_ids"], row["response_mask"])


def test_every_shipped_conversation_fits_the_model(tokenizer, chats):
    longest = max(len(encode_conversation(tokenizer, r["messages"])["input_ids"])
                  for split in chats for r in chats[split])
    assert longest <= tokenizer.model_max_length - 64, f"longest conversation {longest} tokens"


def test_a_mixed_batch_of_pairs_and_chats_has_loss_on_every_reply(tokenizer, tiny_model, chats):
    from datasets import concatenate_datasets
    columns = ["input_ids", "response_mask", "length"]
    mixed = concatenate_datasets([encode_sft(load_sft("qa", "validation").select(range(2)), tokenizer).select_columns(columns),
                                  encode_sft(chats["validation"].select(range(2)), tokenizer).select_columns(columns)])
    batch = collate(list(mixed), pad_token_id=tokenizer.eos_token_id)
    model = tiny_model
    model.config.n_positions = 512
    logits = model(input_ids=batch["input_ids"][:, :128], attention_mask=batch["attention_mask"][:, :128]).logits
    loss = sft_loss(logits, batch["input_ids"][:, :128], batch["response_mask"][:, :128])
    assert torch.isfinite(loss) and loss > 0
    assert all(int(m.sum()) > 0 for m in batch["response_mask"])


def test_bad_conversation_rows_name_the_line(tmp_path):
    good = {"id": "c1", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    bad = {"id": "c2", "messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Again"}]}
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=r"line 2 \(id='c2'\): message 1: expected a 'assistant' turn"):
        validate_sft_file(path)


def test_reply_renders_through_the_chat_template(base):
    model, tok = base
    prompt = "How long does shipping take?"
    assert render_prompt(tok, [{"role": "user", "content": prompt}]) == format_prompt(prompt)
    assert reply(model, tok, [prompt], max_new_tokens=8) == generate(model, tok, [format_prompt(prompt)], max_new_tokens=8)
    conversation = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": prompt}]
    text = with_chat_template(tok).apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    assert reply(model, tok, [conversation], max_new_tokens=8) == generate(model, tok, [text], max_new_tokens=8)
    with pytest.raises(ValueError, match="message 2: a conversation to reply to ends with a 'user' turn"):
        reply(model, tok, [conversation[:2] + [{"role": "assistant", "content": "x"}]])


def test_chat_rows_are_scored_on_the_follow_up(base, chats):
    model, tok = base
    rows = chats["test"].select(range(4)).to_list()
    prompt = prompt_of(rows[0])
    assert prompt == rows[0]["messages"][:4] and prompt[-1]["role"] == "user"
    result = task_score(model, tok, rows, max_new_tokens=4)
    assert result["n"] == 4 and result["score"] == 0.0      # four tokens cannot state the required facts


def test_chat_remembers_the_conversation_and_forgets_the_oldest_when_full(base, monkeypatch):
    model, tok = base
    seen = []

    def fake_reply(m, t, prompts, max_new_tokens):
        seen.append(prompts[0])
        return [f"answer {len(seen)}"]

    monkeypatch.setattr("course_utils.chat.reply", fake_reply)
    chat = Chat(model, tok, system="You are the support assistant of Pebble & Pine.")
    chat.respond("first question")
    chat.respond("second question")
    assert [m["content"] for m in seen[1]] == ["You are the support assistant of Pebble & Pine.", "first question",
                                               "answer 1", "second question"]
    long = "word " * 60          # each exchange takes about a fifth of the 320-token window
    for _ in range(6):
        chat.respond(long)
    last = seen[-1]
    assert last[0]["role"] == "system" and "first question" not in [m["content"] for m in last]
    assert len(tok(render_prompt(tok, last))["input_ids"]) <= model.config.n_positions - chat.max_new_tokens
    chat.reset()
    chat.respond("again")
    assert [m["role"] for m in seen[-1]] == ["system", "user"]
    with pytest.raises(ValueError, match="longer than the model's window"):
        chat.respond("word " * 400)
