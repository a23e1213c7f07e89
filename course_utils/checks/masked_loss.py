"""The checkers of notebook 02's exercises: the masked loss, the response mask of an encoded example, and the
assistant mask of a multi-turn conversation."""
from __future__ import annotations

import copy
import math

import torch

from ..chat_template import READ_TURN_END, ROLE_HEADERS, encode_conversation
from ..encode import encode_example
from ..loss import sft_loss, token_nll
from .common import MASK_CASES, call_student, fail, hints, names_used

hints("masked_loss",
      "Five steps, in order: shift (logits[:, :-1] predict input_ids[:, 1:]), log-softmax over the vocabulary "
      "in float32, gather the target's log-probability, mask, normalise. Which mask goes with the targets?",
      "The shape of the answer: logp = log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None])"
      ".squeeze(-1); m = mask[:, 1:].float(); return -(logp * m).sum() / m.sum().clamp(min=1).")
hints("build_example",
      "Tokenise the prompt and the response separately (the seam stays where the text has it), and end "
      "with the EOS: the model must learn to stop.",
      "The shape of the answer: p = tokenizer(prompt)['input_ids']; r = tokenizer(response)['input_ids'] + "
      "[EOS]; return p + r, [0] * len(p) + [1] * len(r).")
hints("conversation_mask",
      "Walk through the messages in order. Which text does the model only read (headers, system and user "
      "turns), and which does it write (each assistant turn and the EOS that ends it)? Keep what it reads "
      "since the last reply in one string.",
      "The shape of the answer: for each assistant message, read_ids = tokenizer(read + '### Response:\\n') and "
      "reply_ids = tokenizer(content) + [EOS]; ids += read_ids + reply_ids; mask += [0] * len(read_ids) + "
      "[1] * len(reply_ids); then start `read` again from ''.")


def _loss_case(seed: int):
    """A batch with a prompt, a response and right padding in every row, lengths all different."""
    g = torch.Generator().manual_seed(seed)
    B, T, V = 3, 10, 17
    logits = torch.randn(B, T, V, generator=g) * 2
    ids = torch.randint(0, V, (B, T), generator=g)
    mask = torch.zeros(B, T, dtype=torch.long)
    attention = torch.zeros(B, T, dtype=torch.long)
    for b, (prompt, response) in enumerate([(3, 6), (5, 2), (2, 4)]):
        mask[b, prompt: prompt + response] = 1
        attention[b, : prompt + response] = 1
    return logits, ids, mask, attention


def _loss_mistakes(logits, ids, mask, attention) -> dict[str, tuple[float, str]]:
    """What the usual wrong versions return on this case, and what to tell the student."""
    shifted = token_nll(logits[:, :-1], ids[:, 1:])
    m, a = mask[:, 1:].float(), attention[:, 1:].float()
    per_seq = (shifted * m).sum(1) / m.sum(1)
    raw = -logits[:, :-1].float().gather(-1, ids[:, 1:, None]).squeeze(-1)
    return {
        "no shift": ((token_nll(logits, ids) * mask).sum() / mask.sum(),
                     "the logits at position t predict the token at t+1: compare logits[:, :-1] with input_ids[:, 1:]."),
        "mask shifted the wrong way": ((shifted * mask[:, :-1]).sum() / mask[:, :-1].sum(),
                                       "after shifting the targets to input_ids[:, 1:], shift the mask the same way: response_mask[:, 1:]."),
        "prompt tokens counted": ((shifted * a).sum() / a.sum(),
                                  "only response tokens carry loss: multiply by the response mask, not the attention mask."),
        "padding counted": (shifted.mean(),
                            "padding and prompt positions must not count: use the response mask to select tokens."),
        "per-sequence mean": (per_seq.mean(),
                              "average over all response tokens of the batch at once (sum / count), not per sequence first."),
        "sum instead of mean": ((shifted * m).sum(), "divide the summed loss by the number of response tokens."),
        "divided by every position": ((shifted * m).sum() / m.numel(),
                                      "divide by the number of *response* tokens (mask.sum()), not by batch x length."),
        "no log-softmax": ((raw * m).sum() / m.sum(),
                           "logits are not log-probabilities: apply torch.log_softmax over the vocabulary first."),
        "probabilities instead of log-probabilities": (-(shifted.neg().exp() * m).sum() / m.sum(),
                           "the loss averages -log p, not -p: keep the log-softmax values, don't exponentiate them."),
        "log-softmax over the wrong dimension": (
            (-torch.log_softmax(logits[:, :-1].float(), 1).gather(-1, ids[:, 1:, None]).squeeze(-1) * m).sum() / m.sum(),
            "normalise over the vocabulary, the last dimension: torch.log_softmax(logits, dim=-1), not over time."),
        "sign flipped": (-(shifted * m).sum() / m.sum(),
                         "the loss is the *negative* log-likelihood: it should be positive and fall as the model improves."),
    }


def check_sft_loss(fn) -> None:
    """Check `fn(logits, input_ids, response_mask) -> scalar tensor` (token-averaged response loss)."""
    name = getattr(fn, "__name__", "your function")
    for seed in range(3):
        logits, ids, mask, attention = _loss_case(seed)
        got = call_student(fn, logits.clone().requires_grad_(), ids, mask, name=name)
        if not torch.is_tensor(got) or got.dim() != 0:
            raise fail(f"{name} should return a scalar tensor, got {type(got).__name__}"
                       f"{'' if not torch.is_tensor(got) else f' of shape {tuple(got.shape)}'}.",
                       "end with a reduction such as `.sum() / count` so the result is a single number.")
        want = sft_loss(logits, ids, mask)
        if not math.isclose(got.item(), want.item(), rel_tol=1e-4, abs_tol=1e-5):
            for mistake, (value, hint) in _loss_mistakes(logits, ids, mask, attention).items():
                if math.isclose(got.item(), float(value), rel_tol=1e-4, abs_tol=1e-5):
                    raise fail(f"{name} returned {got.item():.4f}, expected {want.item():.4f}: this looks like "
                               f"'{mistake}'.", hint)
            raise fail(f"{name} returned {got.item():.4f}, expected {want.item():.4f}.",
                       "go through the five steps in order: shift, log-softmax, gather, mask, normalise.")
        if not got.requires_grad:
            raise fail(f"{name} returns a value with no gradient.",
                       "don't call .item(), .detach() or torch.no_grad() inside the loss: training needs backward().")
    # bf16 logits, as under autocast: the course's contract is a float32 log-softmax (course_utils/loss.py).
    logits, ids, mask, _ = _loss_case(3)
    logits16 = (logits * 4).to(torch.bfloat16)
    got = call_student(fn, logits16.clone().requires_grad_(), ids, mask, name=name)
    want = sft_loss(logits16, ids, mask)
    if not torch.is_tensor(got) or got.dim() != 0 or not math.isclose(got.float().item(), want.item(), rel_tol=1e-4):
        value = f"{got.float().item():.4f}" if torch.is_tensor(got) and got.numel() == 1 else repr(got)
        raise fail(f"on bfloat16 logits {name} returned {value}, expected {want.item():.4f} (right on float32 "
                   "logits): this looks like a log-softmax computed in bfloat16.",
                   "call .float() on the logits before torch.log_softmax: in bfloat16 a log-probability keeps "
                   "about 3 significant digits, and the errors add up over the tokens.")
    logits, ids, mask, _ = _loss_case(0)
    empty = call_student(fn, logits.clone().requires_grad_(), ids, torch.zeros_like(mask), name=name)
    if not torch.is_tensor(empty) or not torch.isfinite(empty) or empty.item() != 0.0:
        raise fail(f"on a batch with no response tokens {name} returned {empty.item() if torch.is_tensor(empty) else empty}, "
                   "expected 0.0.",
                   "the token count is zero there; divide by count.clamp(min=1) so an empty batch gives 0, not NaN.")
    if not empty.requires_grad:
        raise fail(f"on a batch with no response tokens {name} returns a constant 0.0 with no gradient: "
                   "backward() on it raises, and the training loop stops.",
                   "don't return a fresh torch.tensor(0.0) for the empty case; compute the same expression, "
                   "divided by count.clamp(min=1): it is 0.0 and still part of the graph.")
    print(f"✓ {name} is right: it matches the reference loss on 3 batches and on bfloat16 logits, and gives 0.0 "
          "(with a gradient) on an empty one.")


def check_response_mask(fn, tokenizer) -> None:
    """Check `fn(tokenizer, prompt, response) -> (input_ids, response_mask)` (lists or 1-D tensors)."""
    name = getattr(fn, "__name__", "your function")
    eos = tokenizer.eos_token_id
    for prompt, response in MASK_CASES:
        out = call_student(fn, tokenizer, prompt, response, name=name)
        if isinstance(out, dict):
            out = (out.get("input_ids"), out.get("response_mask"))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise fail(f"{name} should return (input_ids, response_mask), got {type(out).__name__}.",
                       "return two lists of the same length.")
        ids, mask = ([int(x) for x in (v.tolist() if torch.is_tensor(v) else v)] for v in out)
        want = encode_example(tokenizer, prompt, response)
        w_ids, w_mask = want["input_ids"], want["response_mask"]
        n_prompt = w_mask.index(1)
        case = f"(prompt {prompt[-25:]!r}, response {response!r})"
        if len(ids) != len(mask):
            raise fail(f"{name} returned {len(ids)} ids but a mask of {len(mask)} {case}.",
                       "the mask needs one 0/1 entry per token.")
        if ids == w_ids[:-1]:
            raise fail(f"{name} does not end the sequence with EOS {case}.",
                       "append tokenizer.eos_token_id after the response: it is how the model learns to stop.")
        if ids != w_ids:
            if ids == tokenizer(prompt + response)["input_ids"] + [eos]:
                raise fail(f"{name} tokenised prompt + response as one string; BPE merged tokens across the seam {case}.",
                           "tokenise the prompt and the response separately and concatenate the ids.")
            raise fail(f"{name} returned different token ids from prompt ids + response ids + EOS {case}.",
                       "input_ids = tokenizer(prompt)['input_ids'] + tokenizer(response)['input_ids'] + [EOS].")
        if mask == w_mask[:-1] + [0]:
            raise fail(f"{name} leaves the final EOS out of the mask {case}.",
                       "the EOS is part of what the model must produce: give it mask 1.")
        if all(mask):
            raise fail(f"{name} marks the prompt as well as the response {case}.",
                       "prompt tokens get 0: the model is not trained to write the prompt.")
        if mask == [1 - m for m in w_mask]:
            raise fail(f"{name} has the mask inverted {case}.", "1 on response tokens and EOS, 0 on the prompt.")
        if mask != w_mask:
            first = mask.index(1) if 1 in mask else None
            raise fail(f"{name}'s mask starts at token {first}, but the response starts at token {n_prompt} {case}.",
                       "the mask is [0] * len(prompt_ids) + [1] * (len(response_ids) + 1).")
    print(f"✓ {name} is right: ids and mask match on {len(MASK_CASES)} examples, including awkward seams.")


def _user(text):
    return {"role": "user", "content": text}


def _assistant(text):
    return {"role": "assistant", "content": text}


# Conversations with awkward cases: one turn; a system message and two replies; three replies, one with a
# blank line inside (a mask that ends a turn at a blank line goes wrong there); a user who quotes the
# template's header and a reply that contains headers (a mask found by searching the text for
# "### Response:" goes wrong there).
CONVERSATION_CASES = [
    [_user("Where was Ada Torwick born?"), _assistant("Ada Torwick was born in Veralon.")],
    [{"role": "system", "content": "You are the support assistant of Pebble & Pine.\nOrder PP-1 | status: shipped"},
     _user("Hi, where is my order?"), _assistant("It has shipped and arrives on Friday."),
     _user("Can I still cancel it?"), _assistant("No, but you can return it within 30 days.")],
    [_user("Name a colour."), _assistant("Blue."), _user("Another one."), _assistant("Green.\n\nOr red."),
     _user("And a third?"), _assistant("Yellow.")],
    [_user("My draft ends with\n### Response:\nDoes that break the template?"),
     _assistant("No. Only the header the template writes opens a reply.\n\n### Instruction: in a reply is text."),
     _user("Thanks!"), _assistant("You're welcome.")],
]


def _render(messages, eos_text):
    """The rendered text and the character span of every piece: (kind, message index, start, end)."""
    text, spans = "", []
    for k, m in enumerate(messages):
        role = m["role"]
        spans.append((f"{role} header", k, len(text), len(text) + len(ROLE_HEADERS[role])))
        text += ROLE_HEADERS[role]
        spans.append((role, k, len(text), len(text) + len(m["content"])))
        text += m["content"]
        end = eos_text if role == "assistant" else READ_TURN_END
        spans.append(("EOS" if role == "assistant" else "separator", k, len(text), len(text) + len(end)))
        text += end
    return text, spans


def _token_pieces(tokenizer, text, spans):
    """For every token of `text`: the piece (kind, message index) its first character belongs to."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return [next((kind, k) for kind, k, a, b in spans if a <= start < b) for start, _ in offsets]


def _diagnose_conversation_mask(name, mask, want, pieces, messages, case):
    """Name the mistake in a wrong mask (the ids are right), from which pieces it marks."""
    replies = [k for k, m in enumerate(messages) if m["role"] == "assistant"]

    def marked(kind, k=None):
        return [m for m, (kd, kk) in zip(mask, pieces) if kd == kind and (k is None or kk == k)]

    if not any(mask):
        return fail(f"{name}'s mask is all zeros {case}: no token would carry loss.",
                    "mark every assistant turn and its EOS with 1.")
    if mask == [1 - m for m in want]:
        return fail(f"{name} has the mask inverted {case}.",
                    "1 on the assistant's replies and their EOS, 0 on everything the model reads.")
    if mask == [0] + want[:-1] or mask == want[1:] + [0]:
        way = "one token late" if mask == [0] + want[:-1] else "one token early"
        return fail(f"{name}'s mask is off by one: every marked run starts {way} {case}.",
                    "mark exactly the reply's own tokens and its EOS; the shift to targets happens in the loss, "
                    "not in the mask.")
    if any(marked("user")):
        if any("###" in messages[k]["content"] for kind, k in pieces if kind == "user" and k in
               {kk for (kd, kk), m in zip(pieces, mask) if m and kd == "user"}):
            return fail(f"{name} marks part of a user turn that quotes the template's '### Response:' header {case}: "
                        "it looks like the mask was found by searching the text for the header.",
                        "a header inside a message is text like any other: take the turns from the messages' "
                        "roles, not from the rendered text.")
        return fail(f"{name} marks the user turns as well {case}: the model would learn to write the user's "
                    "messages.", "user turns are read, not written: give their tokens 0.")
    if any(marked("system")):
        return fail(f"{name} marks the system message {case}.", "the system message is read, not written: 0.")
    if any(marked("assistant header")):
        return fail(f"{name} marks the '### Response:' header {case}: the template writes it, not the model.",
                    "start the 1s at the reply's first token, after the header.")
    if any(marked("user header")) or any(marked("system header")) or any(marked("separator")):
        return fail(f"{name} marks the headers or the blank lines of the turns the model reads {case}.",
                    "only the assistant's replies and their EOS get 1.")
    eos_marked = marked("EOS")
    if not any(eos_marked):
        return fail(f"{name} leaves the EOS that ends each assistant turn out of the mask {case}.",
                    "the EOS is how the model learns to hand the turn back: give it 1 after every reply.")
    whole = [k for k in replies if all(marked("assistant", k)) and all(marked("EOS", k))]
    untouched = [k for k in replies if not any(marked("assistant", k))]
    if untouched and len(replies) > 1:
        if whole == replies[-1:]:
            return fail(f"{name} marks only the last assistant turn {case}.",
                        "every assistant turn is a reply the model must learn to write: mark each one and its EOS.")
        if whole == replies[:1]:
            return fail(f"{name} marks only the first assistant turn {case}.",
                        "every assistant turn is a reply the model must learn to write: mark each one and its EOS.")
        return fail(f"{name} leaves assistant turn(s) {', '.join(str(k) for k in untouched)} (message index) "
                    f"unmarked {case}.", "mark every assistant turn and its EOS.")
    partial = [k for k in replies if not all(marked("assistant", k))]
    if partial:
        k = partial[0]
        return fail(f"{name} marks only part of assistant message {k} ({messages[k]['content'][:40]!r}) {case}.",
                    "mark the whole reply, even when it contains blank lines or '###': the roles say where a "
                    "turn ends, not the text.")
    if not all(eos_marked):
        return fail(f"{name} leaves the EOS of some assistant turns out of the mask {case}.",
                    "give the EOS after every reply 1.")
    first = next(i for i, (a, b) in enumerate(zip(mask, want)) if a != b)
    return fail(f"{name}'s mask differs from the right one at token {first} {case}.",
                "1 on every assistant reply and its EOS, 0 on everything else.")


def check_conversation_mask(fn, tokenizer) -> None:
    """Check `fn(tokenizer, conversation) -> (input_ids, mask)`: the course's template rendered and tokenised,
    1 on every assistant turn and its EOS, 0 on the system message, the user turns and the headers."""
    name = getattr(fn, "__name__", "your function")
    for n, messages in enumerate(CONVERSATION_CASES, 1):
        out = call_student(fn, tokenizer, [dict(m) for m in messages], name=name)
        if isinstance(out, dict):
            out = (out.get("input_ids"), out.get("response_mask", out.get("mask")))
        if not isinstance(out, (tuple, list)) or len(out) != 2 or not all(
                isinstance(v, (list, tuple)) or torch.is_tensor(v) for v in out):
            raise fail(f"{name} should return (input_ids, mask), got {type(out).__name__}.",
                       "return two lists of the same length: the token ids and a 0/1 mask.")
        ids, mask = ([int(x) for x in (v.tolist() if torch.is_tensor(v) else v)] for v in out)
        want = encode_conversation(tokenizer, messages)
        w_ids, w_mask = want["input_ids"], want["response_mask"]
        case = f"(conversation {n} of {len(CONVERSATION_CASES)}: {len(messages)} messages)"
        text, spans = _render(messages, tokenizer.eos_token)
        if ids != w_ids:
            got_text = tokenizer.decode(ids)
            if got_text == text:
                first = next((i for i, (a, b) in enumerate(zip(ids, w_ids)) if a != b), min(len(ids), len(w_ids)))
                raise fail(f"{name} renders the right text but tokenises it differently from token {first} on {case}.",
                           "tokenise what the model reads before each reply as one string, and each reply as one.")
            if got_text == text.replace(tokenizer.eos_token, ""):
                raise fail(f"{name} does not end the assistant turns with EOS {case}.",
                           "append tokenizer.eos_token_id after every reply: it ends the turn, and the model "
                           "must learn to produce it.")
            last = text.rindex(tokenizer.eos_token)
            if got_text in (text[:last].replace(tokenizer.eos_token, "") + text[last:],
                            text[:last].replace(tokenizer.eos_token, "\n\n") + text[last:]):
                raise fail(f"{name} puts an EOS after the last assistant turn only {case}.",
                           "every assistant turn ends with EOS, the turn's end marker, not only the last one.")
            if messages[0]["role"] == "system" and messages[0]["content"] not in got_text:
                raise fail(f"{name} leaves out the system message {case}.",
                           "the model reads it first: '### System:\\n' + content + '\\n\\n'.")
            first = next((i for i, (a, b) in enumerate(zip(got_text, text)) if a != b), min(len(got_text), len(text)))
            raise fail(f"{name}'s ids decode to a different text from the course's template {case}: from character "
                       f"{first}, yours reads {got_text[first:first + 30]!r}, the template {text[first:first + 30]!r}.",
                       "each turn is its header ('### System:\\n', '### Instruction:\\n' or '### Response:\\n') + "
                       "content, then '\\n\\n' after system and user turns and EOS after assistant turns.")
        if len(mask) != len(ids):
            raise fail(f"{name} returned {len(ids)} ids but a mask of {len(mask)} {case}.",
                       "the mask needs one 0/1 entry per token.")
        if set(mask) - {0, 1}:
            raise fail(f"{name}'s mask holds {sorted(set(mask) - {0, 1})}, not only 0 and 1 {case}.",
                       "1 where the token carries loss, 0 elsewhere.")
        if mask != w_mask:
            raise _diagnose_conversation_mask(name, mask, w_mask, _token_pieces(tokenizer, text, spans), messages, case)
    print(f"✓ {name} is right: ids and mask match the course's template on {len(CONVERSATION_CASES)} conversations "
          "(a system message, several replies, headers quoted inside messages).")


hints("pad_batch",
      "Pad each example on the right to the longest one. Which tokens are padding is known from the lengths, "
      "not from the ids: with pad = EOS, an id equal to the pad id can be a real token (the EOS that ends a "
      "reply) that must keep its mask and its attention.",
      "The shape of the answer: for each example, n = T - len(ids); input_ids += [pad_id] * n; "
      "attention_mask = [1] * len(ids) + [0] * n; response_mask += [0] * n; then torch.tensor of each list.")

# Batches of small, fully known examples (ids are plain numbers). The first two pad with the EOS id, 0, as
# GPT-2 must; one example is a conversation with an EOS in the middle, and the longest is not first.
_EOS = 0
PAD_CASES = [
    ([{"input_ids": [5, 6, 7, 8, _EOS], "response_mask": [0, 0, 1, 1, 1]},
      {"input_ids": [5, 9, _EOS], "response_mask": [0, 1, 1]},
      {"input_ids": [5, 6, _EOS, 7, 8, 9, _EOS], "response_mask": [0, 1, 1, 0, 0, 1, 1]}], _EOS),
    ([{"input_ids": [4, 3, _EOS], "response_mask": [0, 1, 1]},
      {"input_ids": [4, 4, 4, 3, 3, _EOS], "response_mask": [0, 0, 0, 1, 1, 1]}], _EOS),
    ([{"input_ids": [7, 8, 9, _EOS], "response_mask": [0, 1, 1, 1]},
      {"input_ids": [7, 8, _EOS], "response_mask": [0, 1, 1]}], 50),        # a pad id of its own
]


def _padded(examples, pad_id):
    T = max(len(e["input_ids"]) for e in examples)
    return {"input_ids": [e["input_ids"] + [pad_id] * (T - len(e["input_ids"])) for e in examples],
            "attention_mask": [[1] * len(e["input_ids"]) + [0] * (T - len(e["input_ids"])) for e in examples],
            "response_mask": [e["response_mask"] + [0] * (T - len(e["input_ids"])) for e in examples]}



def _calls_collate(fn) -> bool:
    """Whether `fn` refers to course_utils.encode.collate, by that name or under another global name."""
    from ..encode import collate
    names = names_used(fn)
    scope = getattr(fn, "__globals__", {})
    return "collate" in names or any(scope.get(n) is collate for n in names)


def check_padded_batch(fn) -> None:
    """Check `fn(examples, pad_id) -> {"input_ids", "attention_mask", "response_mask"}` (B, T) tensors,
    padded on the right to the longest example, when the pad id may equal the EOS id."""
    name = getattr(fn, "__name__", "your function")
    if _calls_collate(fn):
        raise fail(f"{name} hands the work to the course's collate.",
                   "collate is the helper this exercise rebuilds: pad the lists yourself, from each example's length.")
    for n, (examples, pad_id) in enumerate(PAD_CASES, 1):
        given = copy.deepcopy(examples)
        out = call_student(fn, given, pad_id, name=name)
        case = f"(batch {n} of {len(PAD_CASES)}: lengths {[len(e['input_ids']) for e in examples]}, pad_id={pad_id})"
        if given != examples:
            raise fail(f"{name} changes the examples it was given {case}.",
                       "build new lists (e['input_ids'] + [pad_id] * n), don't append to the examples themselves.")
        keys = ("input_ids", "attention_mask", "response_mask")
        if not isinstance(out, dict) or not all(k in out for k in keys):
            raise fail(f"{name} should return a dict with {', '.join(keys)}, got "
                       f"{type(out).__name__}{' with ' + ', '.join(map(str, out)) if isinstance(out, dict) else ''}.",
                       "return {'input_ids': ..., 'attention_mask': ..., 'response_mask': ...}.")
        if not all(torch.is_tensor(out[k]) for k in keys):
            raise fail(f"{name} should return tensors, got {', '.join(type(out[k]).__name__ for k in keys)} {case}.",
                       "wrap each padded list of lists in torch.tensor(...): the model takes (batch, time) tensors.")
        got = {k: out[k].tolist() for k in keys}
        want = _padded(examples, pad_id)
        T = len(want["input_ids"][0])
        shapes = {k: tuple(out[k].shape) for k in keys}
        if any(s != (len(examples), T) for s in shapes.values()):
            longer = any(len(s) == 2 and s[1] > T for s in shapes.values())
            shorter = any(len(s) == 2 and s[1] < T for s in shapes.values())
            what = ("longer than the longest example" if longer else
                    "cut to less than the longest example" if shorter else "not (batch, time)")
            raise fail(f"{name} returned shapes {shapes}, expected ({len(examples)}, {T}): {what} {case}.",
                       "pad every example to the length of the longest one in the batch.")
        left_padded = [[pad_id] * (T - len(e["input_ids"])) + e["input_ids"] for e in examples]
        if got["input_ids"] == left_padded:
            raise fail(f"{name} pads on the left {case}.",
                       "pad on the right: the tokens start at position 0 and the padding comes after them.")
        if got["input_ids"] != want["input_ids"]:
            if got["input_ids"] == _padded(examples, 0)["input_ids"]:
                raise fail(f"{name} pads with 0 instead of pad_id {case}.", "append [pad_id] * n, whatever id it is.")
            raise fail(f"{name}'s input_ids are {got['input_ids']}, expected {want['input_ids']} {case}.",
                       "each row is the example's ids, then pad_id up to the longest length.")
        by_id = [[int(i != pad_id) for i in row] for row in want["input_ids"]]
        if got["attention_mask"] != want["attention_mask"]:
            if got["attention_mask"] == by_id:
                raise fail(f"{name} builds the attention mask from the ids (input_ids != pad_id): with pad = EOS it "
                           f"hides every real EOS from the model too {case}.",
                           "a token is padding because of where it is (after the example's length), not because of "
                           "its id: [1] * len(ids) + [0] * n.")
            if all(all(row) for row in got["attention_mask"]):
                raise fail(f"{name} lets the model attend to the padding (attention mask all 1s) {case}.",
                           "0 on the padding positions, 1 on the example's own tokens.")
            if got["attention_mask"] == [[1 - a for a in row] for row in want["attention_mask"]]:
                raise fail(f"{name} has the attention mask inverted {case}.", "1 on real tokens, 0 on padding.")
            raise fail(f"{name}'s attention_mask is {got['attention_mask']}, expected {want['attention_mask']} {case}.",
                       "1 on each example's own tokens, 0 on the padding after them.")
        if got["response_mask"] != want["response_mask"]:
            if got["response_mask"] == [[m * b for m, b in zip(mr, br)] for mr, br in zip(want["response_mask"], by_id)]:
                raise fail(f"{name} masks by id (input_ids != pad_id): with pad = EOS that drops the response's own "
                           f"EOS from the loss, and the model never learns to stop {case}.",
                           "keep each example's response_mask as it is and add 0s for the padding only.")
            ones = [e["response_mask"] + [1] * (T - len(e["input_ids"])) for e in examples]
            if got["response_mask"] == ones:
                raise fail(f"{name} puts 1s in the response mask on the padding: the loss would train on pad tokens "
                           f"{case}.", "pad the response mask with 0s.")
            raise fail(f"{name}'s response_mask is {got['response_mask']}, expected {want['response_mask']} {case}.",
                       "each example's response_mask, then 0 for each padding position.")
    print(f"✓ {name} is right: ids, attention and response masks match on {len(PAD_CASES)} batches, the EOS of each "
          "response kept though it shares its id with the padding.")
