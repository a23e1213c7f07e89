"""Multi-turn conversations: a chat template, and the response mask for every assistant turn.

A conversation is a list of messages `{"role": "system" | "user" | "assistant", "content": str}`: an
optional system message, then user and assistant turns in turn, ending with the assistant. SFT on a
conversation trains the model to *write* every assistant turn (and the token that ends it) while it
only *reads* the system message, the user turns and the role headers, exactly as in `encode_example`.

Two routes to the same token ids and mask, so the course can check one against the other:
  `encode_conversation`      the course's own, written by hand, turn by turn;
  `template_assistant_mask`  Hugging Face's: a Jinja chat template rendered by `apply_chat_template`,
                             whose `{% generation %}` blocks mark the text the assistant writes.

Tokens. The course's tokenizer has one special token, `<|endoftext|>` (EOS). So the role headers of
this template are plain text, the ones the single-turn instruction template already uses
(`data.format_prompt`: "### Instruction:" for the user, "### Response:" for the assistant, plus
"### System:"), and EOS is the end-of-turn marker: it is what `generate()` already stops at, and each
reply must end with it so the model learns to hand the turn back. (A vocabulary can grow: `with_chat_tokens`
below adds role and end-of-turn tokens of their own to a copy of the tokenizer, and the model then needs
its embeddings resized; notebook 07, section 7, measures what that changes.)
Each user/assistant pair therefore renders as one single-turn example,

    ### Instruction:\n{user}\n\n### Response:\n{assistant}<|endoftext|>

and a one-turn conversation without a system message encodes exactly like
`encode_example(tokenizer, format_prompt(user), assistant)`. The next turn follows the EOS directly:
a special token is always a token boundary, so the text after it tokenizes as if it began the string.
"""
from __future__ import annotations

import copy

ROLE_HEADERS = {"system": "### System:\n", "user": "### Instruction:\n", "assistant": "### Response:\n"}
READ_TURN_END = "\n\n"   # after a system or user message; an assistant message ends with EOS instead

# The same layout as ROLE_HEADERS, as a Jinja template. `{% generation %}` wraps the assistant's content
# *and* its EOS: both are what the model must learn to produce (without the EOS it never learns to stop).
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}"
    "{{- '### System:\\n' + message['content'] + '\\n\\n' -}}"
    "{%- elif message['role'] == 'user' -%}"
    "{{- '### Instruction:\\n' + message['content'] + '\\n\\n' -}}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{- '### Response:\\n' -}}"
    "{%- generation -%}{{- message['content'] + eos_token -}}{%- endgeneration -%}"
    "{%- else -%}"
    "{{- raise_exception('unknown role ' + message['role'] + '; use system, user or assistant') -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    # For generation: open an assistant turn; the model writes the reply and its EOS.
    "{%- if add_generation_prompt -%}{{- '### Response:\\n' -}}{%- endif -%}"
)


def with_chat_template(tokenizer, template: str = CHAT_TEMPLATE):
    """A copy of `tokenizer` with `template` as its chat template. The shipped tokenizer is shared by
    every notebook (and cached by `load_base`), so it is never changed in place; nothing is written."""
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = template
    return tok


def check_conversation(messages) -> None:
    """Raise ValueError, naming the message index, unless `messages` is a conversation SFT can train on:
    an optional system message first, then user and assistant alternating, ending with the assistant."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("the conversation is empty; give a list of {'role', 'content'} messages")
    expected = "user"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"message {i}: a message is a dict with 'role' and 'content', got {m!r:.60}")
        role, content = m["role"], m["content"]
        if role not in ROLE_HEADERS:
            raise ValueError(f"message {i}: unknown role {role!r}; use 'system', 'user' or 'assistant'")
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"message {i} ({role}): the content is empty or not a string")
        if role == "system":
            if i != 0:
                raise ValueError(f"message {i}: a system message can only come first")
            continue
        if role != expected:
            raise ValueError(f"message {i}: expected a {expected!r} turn, got {role!r}; user and assistant "
                             "turns must alternate, starting with the user")
        expected = "assistant" if role == "user" else "user"
    if messages[-1]["role"] != "assistant":
        last = len(messages) - 1
        if not any(m["role"] == "assistant" for m in messages):
            raise ValueError(f"message {last}: the conversation has no assistant turn, so nothing to learn")
        raise ValueError(f"message {last}: the conversation ends with a {messages[-1]['role']!r} turn; a "
                         "training conversation ends with the assistant's reply (to generate one, render it "
                         "with add_generation_prompt=True)")


def encode_conversation(tokenizer, messages, max_length: int | None = None) -> dict:
    """`input_ids`, `response_mask` (1 on every assistant turn's tokens and its EOS) and `length`.

    Like `encode_example`, the text the model reads (headers, system and user turns, gathered up to the
    next reply) and each reply are tokenized separately, so the seam between them stays where the text
    has it. The template route tokenizes the whole rendered string at once; the two agree whenever the
    header's closing newline stays a token of its own, which it does before a reply that starts with a
    visible character. A reply starting with whitespace can merge with it (with GPT-2's BPE, "\n\nHi"
    after the header gives one "\n\n" token straddling the seam, which the template marks as the
    assistant's); here the seam stays exact and the masked tokens decode to the reply.
    A conversation longer than `max_length` raises, as in `encode_example`, rather than being cut (a cut
    could drop a reply or its EOS).
    """
    check_conversation(messages)
    eos = tokenizer.eos_token_id
    input_ids, response_mask, read = [], [], ""
    first_over = None     # the message during which the conversation passes max_length (for the error)
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            read += ROLE_HEADERS[m["role"]] + m["content"] + READ_TURN_END
            continue
        prompt_ids = tokenizer(read + ROLE_HEADERS["assistant"], add_special_tokens=False)["input_ids"]
        reply_ids = tokenizer(m["content"], add_special_tokens=False)["input_ids"] + [eos]
        input_ids += prompt_ids + reply_ids
        response_mask += [0] * len(prompt_ids) + [1] * len(reply_ids)
        read = ""
        if max_length is not None and first_over is None and len(input_ids) > max_length:
            first_over = i
    if first_over is not None:
        n_reply = sum(response_mask)
        raise ValueError(f"conversation is {len(input_ids)} tokens ({len(input_ids) - n_reply} read + {n_reply} "
                         f"assistant incl. EOS), longer than max_length={max_length} from message {first_over} "
                         "on; drop early turns, shorten it or raise max_length")
    return {"input_ids": input_ids, "response_mask": response_mask, "length": len(input_ids)}


def check_prompt_conversation(messages) -> None:
    """Raise ValueError, naming the message, unless `messages` is a conversation awaiting the assistant's
    next reply: the layout of `check_conversation`, ending with a user turn."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("the conversation is empty; give a list of {'role', 'content'} messages")
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        raise ValueError(f"message {len(messages) - 1}: a conversation to reply to ends with a 'user' turn, "
                         f"got {last.get('role') if isinstance(last, dict) else last!r}")
    check_conversation(list(messages) + [{"role": "assistant", "content": "(the reply to write)"}])


def render_prompt(tokenizer, messages) -> str:
    """The text a model continues to write the next assistant turn: the conversation so far (ending with
    a user turn), rendered by the tokenizer's chat template with `add_generation_prompt=True`, which opens
    the assistant's turn. A tokenizer without a template (a hub GPT-2, an old checkpoint) gets the
    course's. For one user turn this is exactly `data.format_prompt(content)`, the single-turn template."""
    check_prompt_conversation(messages)
    template = getattr(tokenizer, "chat_template", None) or CHAT_TEMPLATE
    return tokenizer.apply_chat_template(list(messages), chat_template=template, tokenize=False,
                                         add_generation_prompt=True)


def template_assistant_mask(tokenizer, messages) -> tuple[list[int], list[int]]:
    """The library route: `(input_ids, assistant_masks)` from the tokenizer's chat template.

    The mask is 1 on the tokens rendered inside `{% generation %}` blocks. A template without them
    gives an all-zero mask: transformers only logs a warning (once per process), nothing raises, and
    training on that mask would have no loss tokens at all. Needs a fast tokenizer (character offsets).
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the tokenizer has no chat template; use with_chat_template(tokenizer) first")
    # return_dict defaults to False before transformers 5 and True from 5 on: pass it.
    out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    return list(out["input_ids"]), list(out["assistant_masks"])


# A chat format with tokens of its own (notebook 07, section 7): each role opens with a special token and
# every turn ends with END_OF_TURN, so the end of a reply is no longer the same token as the end of a
# document or the padding. `{% generation %}` wraps a reply and its END_OF_TURN: the tokens to learn.
ROLE_TOKENS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
END_OF_TURN = "<|end|>"
TOKEN_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{{- '<|system|>' + message['content'] + '<|end|>' -}}"
    "{%- elif message['role'] == 'user' -%}{{- '<|user|>' + message['content'] + '<|end|>' -}}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{- '<|assistant|>' -}}{%- generation -%}{{- message['content'] + '<|end|>' -}}{%- endgeneration -%}"
    "{%- else -%}"
    "{{- raise_exception('unknown role ' + message['role'] + '; use system, user or assistant') -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|>' -}}{%- endif -%}"
)


def with_chat_tokens(tokenizer):
    """A copy of `tokenizer` with the role tokens and END_OF_TURN added as special tokens (ids after the
    last existing one) and TOKEN_CHAT_TEMPLATE as its chat template. The shipped tokenizer is never
    changed; a model used with the copy needs `resize_token_embeddings(len(copy))` first."""
    tok = with_chat_template(tokenizer, TOKEN_CHAT_TEMPLATE)
    new = [t for t in (*ROLE_TOKENS.values(), END_OF_TURN) if t not in tok.get_vocab()]
    tok.add_tokens(new, special_tokens=True)      # special: never split, never merged with the text beside them
    return tok
