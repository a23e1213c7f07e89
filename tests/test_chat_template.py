"""Multi-turn conversations: the course's hand-written mask against the chat template's assistant mask."""
import json
import logging
import math
import warnings

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging as hf_logging

from course_utils.chat_template import (CHAT_TEMPLATE, encode_conversation, template_assistant_mask,
                                        with_chat_template)
from course_utils.data import format_prompt
from course_utils.encode import collate, encode_example
from course_utils.env import data_dir
from course_utils.loss import count_loss_tokens, sft_loss
from course_utils.train import train_sft

ORDER = "Order PP-97421 | customer: Lars Torett | item: desk lamp | status: not shipped yet"

# Three user/assistant turns at the course's shop; each follow-up rests on the reply before it.
SUPPORT_CHAT = [
    {"role": "system", "content": f"You are the support assistant of Pebble & Pine.\n{ORDER}"},
    {"role": "user", "content": "Hi, where is my order?"},
    {"role": "assistant", "content": "Your desk lamp is still being prepared and has not shipped yet. Standard "
                                     "shipping takes 3 to 5 business days once it leaves our warehouse."},
    {"role": "user", "content": "3 to 5 days is too slow. Can I switch to express?"},
    {"role": "assistant", "content": "Yes. Since your desk lamp has not shipped yet, I have switched it to express "
                                     "shipping, which takes 1 to 2 business days."},
    {"role": "user", "content": "Thanks! If I don't like the lamp, can I still send it back?"},
    {"role": "assistant", "content": "Of course. You can return it within 30 days of delivery for a full refund."},
]

TOKENIZERS = ["tokenizer", "gpt2_tokenizer"]     # the course's 4,096-token BPE and OpenAI GPT-2's


def masked_pieces(tokenizer, input_ids, mask):
    """The decoded text of each run of consecutive masked tokens."""
    runs, run = [], []
    for token, m in zip(input_ids, mask):
        if m:
            run.append(token)
        elif run:
            runs, run = runs + [run], []
    runs += [run] if run else []
    return [tokenizer.decode(r) for r in runs]


def replies(messages, eos):
    return [m["content"] + eos for m in messages if m["role"] == "assistant"]


def support_rows(n):
    with open(data_dir() / "sft" / "support" / "train.jsonl", encoding="utf-8") as f:
        return [json.loads(next(f)) for _ in range(n)]


def test_rendered_form_and_no_mutation(tokenizer):
    chat = with_chat_template(tokenizer, "{{ messages[0]['content'] }}")
    assert chat is not tokenizer and tokenizer.chat_template == CHAT_TEMPLATE   # the shared object is untouched
    assert chat.chat_template == "{{ messages[0]['content'] }}"
    chat = tokenizer
    text = chat.apply_chat_template(SUPPORT_CHAT[:3], tokenize=False)
    assert text == ("### System:\nYou are the support assistant of Pebble & Pine.\n" + ORDER + "\n\n"
                    "### Instruction:\nHi, where is my order?\n\n"
                    "### Response:\n" + SUPPORT_CHAT[2]["content"] + "<|endoftext|>")
    prompt = chat.apply_chat_template(SUPPORT_CHAT[:4], tokenize=False, add_generation_prompt=True)
    assert prompt == text + "### Instruction:\n" + SUPPORT_CHAT[3]["content"] + "\n\n### Response:\n"


@pytest.mark.parametrize("name", TOKENIZERS)
def test_course_mask_equals_template_mask(name, request):
    tok = request.getfixturevalue(name)
    enc = encode_conversation(tok, SUPPORT_CHAT)
    ids, assistant_mask = template_assistant_mask(with_chat_template(tok), SUPPORT_CHAT)
    assert enc["input_ids"] == ids
    assert enc["response_mask"] == assistant_mask
    assert enc["length"] == len(ids) and sum(assistant_mask) > 0
    # Under the mask: exactly each reply followed by the end-of-turn token, nothing of the user's.
    expected = replies(SUPPORT_CHAT, tok.eos_token)
    assert len(expected) == 3
    assert masked_pieces(tok, ids, assistant_mask) == expected
    assert tok.decode(ids) == with_chat_template(tok).apply_chat_template(SUPPORT_CHAT, tokenize=False)


@pytest.mark.parametrize("name", TOKENIZERS)
def test_generation_prompt_is_what_training_saw(name, request):
    """At inference the prompt for turn k (add_generation_prompt=True) is token for token the prefix that
    training put before reply k, so the model continues from the context it learned on."""
    tok = request.getfixturevalue(name)
    chat = with_chat_template(tok)
    enc = encode_conversation(tok, SUPPORT_CHAT)
    starts = [t for t in range(len(enc["response_mask"]))
              if enc["response_mask"][t] and not enc["response_mask"][t - 1]]
    turns = [k for k, m in enumerate(SUPPORT_CHAT) if m["role"] == "assistant"]
    for k, start in zip(turns, starts, strict=True):
        prompt = chat.apply_chat_template(SUPPORT_CHAT[:k], tokenize=True, add_generation_prompt=True,
                                          return_dict=True)["input_ids"]
        assert list(prompt) == enc["input_ids"][:start]


def test_template_without_generation_markers_masks_nothing(tokenizer, tiny_model):
    """The trap: drop `{% generation %}` and the assistant mask is all zeros. Nothing raises and no Python
    warning is issued; transformers only logs a line (once per process). Trained on, that mask gives no
    loss tokens: the run 'trains' and the model learns nothing."""
    plain = CHAT_TEMPLATE.replace("{%- generation -%}", "").replace("{%- endgeneration -%}", "")
    assert "{%- generation" not in plain and "{%- endgeneration" not in plain and plain != CHAT_TEMPLATE
    chat = with_chat_template(tokenizer, plain)
    assert chat.apply_chat_template(SUPPORT_CHAT, tokenize=False) == \
        with_chat_template(tokenizer).apply_chat_template(SUPPORT_CHAT, tokenize=False)   # same text

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    hf_root = logging.getLogger("transformers")
    verbosity = hf_logging.get_verbosity()
    getattr(logging.Logger.warning_once, "cache_clear", lambda: None)()   # "once" may have been used up
    hf_root.addHandler(handler)
    hf_logging.set_verbosity_warning()
    try:
        with warnings.catch_warnings(record=True) as python_warnings:
            warnings.simplefilter("always")
            ids, assistant_mask = template_assistant_mask(chat, SUPPORT_CHAT)
    finally:
        hf_root.removeHandler(handler)
        hf_logging.set_verbosity(verbosity)
    assert python_warnings == []
    assert assistant_mask == [0] * len(ids) and len(ids) > 100
    assert any("generation" in r.getMessage() for r in records)

    ids, assistant_mask = template_assistant_mask(chat, SUPPORT_CHAT[1:5])   # two turns: fits tiny_model
    assert assistant_mask == [0] * len(ids) and len(ids) <= tiny_model.config.n_positions
    mask = torch.tensor([assistant_mask])
    assert count_loss_tokens(mask) == 0
    logits = tiny_model(torch.tensor([ids])).logits
    assert sft_loss(logits, torch.tensor([ids]), mask).item() == 0.0

    before = [p.detach().clone() for p in tiny_model.parameters()]
    history = train_sft(tiny_model, [{"input_ids": ids, "response_mask": assistant_mask}] * 2,
                        pad_token_id=tokenizer.pad_token_id, max_steps=2, batch_size=2, device="cpu",
                        precision="float32", progress=False, log_every=1)
    assert history.response_tokens == 0 and history.train_loss == [0.0, 0.0]
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_model.parameters()))


@pytest.mark.parametrize("name", TOKENIZERS)
def test_single_turn_encodes_like_encode_example(name, request):
    tok = request.getfixturevalue(name)
    chat = with_chat_template(tok)
    for row in support_rows(20):
        messages = [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["response"]}]
        enc = encode_conversation(tok, messages)
        single = encode_example(tok, format_prompt(row["prompt"]), row["response"])
        assert enc["input_ids"] == single["input_ids"], row["id"]
        assert enc["response_mask"] == single["response_mask"], row["id"]
        assert template_assistant_mask(chat, messages) == (single["input_ids"], single["response_mask"])


def test_reply_starting_with_whitespace_keeps_the_seam(gpt2_tokenizer):
    """Where the two routes part: GPT-2's BPE merges the header's newline with a reply's leading newline
    into one token, which the template marks as the assistant's. The course keeps the seam exact."""
    messages = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "\n\nHello."}]
    enc = encode_conversation(gpt2_tokenizer, messages)
    ids, assistant_mask = template_assistant_mask(with_chat_template(gpt2_tokenizer), messages)
    assert len(ids) == len(enc["input_ids"]) - 1
    assert masked_pieces(gpt2_tokenizer, enc["input_ids"], enc["response_mask"]) == ["\n\nHello.<|endoftext|>"]
    assert masked_pieces(gpt2_tokenizer, ids, assistant_mask) == ["\n\n\nHello.<|endoftext|>"]


def _with(messages, index, **changes):
    out = [dict(m) for m in messages]
    out[index].update(changes)
    return out


@pytest.mark.parametrize("messages, match", [
    (_with(SUPPORT_CHAT, 3, role="customer"), r"message 3: unknown role 'customer'"),
    (_with(SUPPORT_CHAT, 4, content="  "), r"message 4 \(assistant\): the content is empty"),
    (_with(SUPPORT_CHAT, 1, content=None), r"message 1 \(user\): the content is empty or not a string"),
    (SUPPORT_CHAT[:-1], r"message 5: the conversation ends with a 'user' turn"),
    (SUPPORT_CHAT[:2], r"message 1: the conversation has no assistant turn"),
    (SUPPORT_CHAT[:2] + SUPPORT_CHAT[3:], r"message 2: expected a 'assistant' turn, got 'user'"),
    ([SUPPORT_CHAT[0], SUPPORT_CHAT[2]], r"message 1: expected a 'user' turn, got 'assistant'"),
    (SUPPORT_CHAT[1:3] + SUPPORT_CHAT[:1], r"message 2: a system message can only come first"),
    (SUPPORT_CHAT[:2] + [{"role": "assistant"}], r"message 2: a message is a dict with 'role' and 'content'"),
    ([], r"the conversation is empty"),
])
def test_bad_conversations_name_the_message(tokenizer, messages, match):
    with pytest.raises(ValueError, match=match):
        encode_conversation(tokenizer, messages)


def test_too_long_raises_like_encode_example(tokenizer):
    n = encode_conversation(tokenizer, SUPPORT_CHAT)["length"]
    assert encode_conversation(tokenizer, SUPPORT_CHAT, max_length=n)["length"] == n
    with pytest.raises(ValueError, match=rf"{n} tokens .*longer than max_length={n - 1} from message 6"):
        encode_conversation(tokenizer, SUPPORT_CHAT, max_length=n - 1)
    with pytest.raises(ValueError, match=r"longer than max_length=10 from message 2"):
        encode_conversation(tokenizer, SUPPORT_CHAT, max_length=10)


def test_gpt2_124m_trains_on_template_conversations(gpt2_tokenizer):
    """The scale-up shape, offline: GPT-2 124M (random weights), its real BPE with the chat template,
    two SFT steps on CPU. The first step's loss is the hand-written sft_loss on the full logits."""
    chat = with_chat_template(gpt2_tokenizer)
    # Short conversations keep the two 124M steps at about 10-25 s on 2 CPU threads (timed on a shared machine).
    conversations = [
        [{"role": "user", "content": "Where is my desk lamp?"},
         {"role": "assistant", "content": "It has not shipped yet."},
         {"role": "user", "content": "Can I switch to express?"},
         {"role": "assistant", "content": "Yes, express takes 1 to 2 business days."}],
        [{"role": "system", "content": "You are the support assistant of Pebble & Pine."},
         {"role": "user", "content": "My parcel arrived damaged."},
         {"role": "assistant", "content": "Report it within 14 days and we will send a replacement."}],
    ]
    rows = []
    for messages in conversations:
        enc = encode_conversation(gpt2_tokenizer, messages)
        assert template_assistant_mask(chat, messages) == (enc["input_ids"], enc["response_mask"])
        rows.append(enc)

    torch.manual_seed(0)
    config = GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="sdpa")
    model = GPT2LMHeadModel(config).eval()     # dropout off, so the step's loss is a fixed number
    assert 124e6 < sum(p.numel() for p in model.parameters()) < 125e6
    assert model.config._attn_implementation == "sdpa"

    batch = collate(rows, gpt2_tokenizer.eos_token_id)    # both rows: batch_size=2 draws exactly these
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    expected = sft_loss(logits, batch["input_ids"], batch["response_mask"]).item()

    watched = model.transformer.h[0].attn.c_attn.weight
    before = watched.detach().clone()
    history = train_sft(model, rows, pad_token_id=gpt2_tokenizer.eos_token_id, max_steps=2, batch_size=2,
                        device="cpu", precision="float32", progress=False, log_every=1)
    losses = history.train_loss
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    assert history.response_tokens == 2 * int(count_loss_tokens(batch["response_mask"]))
    assert losses[0] == pytest.approx(expected, rel=1e-4)
    assert not torch.equal(before, watched)
