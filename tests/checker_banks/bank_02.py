"""Notebook 02's checkers: check_sft_loss (the masked loss), check_response_mask (one example's ids and
mask) and check_conversation_mask (the assistant mask of a multi-turn conversation)."""
import torch

from course_utils.chat_template import READ_TURN_END, ROLE_HEADERS
from course_utils.checks import check_conversation_mask, check_padded_batch, check_response_mask, check_sft_loss
from course_utils.encode import collate

from . import Bank, Mutant, tokenizer


def _not_written(*args):
    raise NotImplementedError


# ---- check_sft_loss --------------------------------------------------------------------------------------

def right_loss(logits, ids, mask):
    logp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    m = mask[:, 1:].float()
    return -(logp * m).sum() / m.sum().clamp(min=1)


def _parts(logits, ids, mask):
    logp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return logp, mask[:, 1:].float()


def _empty_constant(logits, ids, mask):
    if mask[:, 1:].sum() == 0:
        return torch.tensor(0.0)
    return right_loss(logits, ids, mask)


def _bf16_log_softmax(logits, ids, mask):
    logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)   # no .float()
    m = mask[:, 1:].to(logp.dtype)
    return -(logp * m).sum() / m.sum().clamp(min=1)


def _cross_entropy_bf16(logits, ids, mask):
    labels = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    if (labels != -100).sum() == 0:
        return (logits.sum() * 0).float()
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                             ignore_index=-100)


LOSS_MUTANTS = {
    "no shift": Mutant(lambda l, i, m: -(torch.log_softmax(l.float(), -1).gather(-1, i[..., None]).squeeze(-1) * m).sum()
                       / m.sum(), "no shift"),
    "mask not shifted": Mutant(lambda l, i, m: -(_parts(l, i, m)[0] * m[:, :-1]).sum() / m[:, :-1].sum(),
                               "mask shifted the wrong way"),
    "mask ignored": Mutant(lambda l, i, m: -_parts(l, i, m)[0].mean(), "padding counted"),
    "per-sequence mean": Mutant(lambda l, i, m: (-(_parts(l, i, m)[0] * _parts(l, i, m)[1]).sum(1)
                                                 / _parts(l, i, m)[1].sum(1)).mean(), "per-sequence mean"),
    "sum": Mutant(lambda l, i, m: -(_parts(l, i, m)[0] * _parts(l, i, m)[1]).sum(), "sum instead of mean"),
    "numel": Mutant(lambda l, i, m: -(_parts(l, i, m)[0] * _parts(l, i, m)[1]).sum() / m[:, 1:].numel(),
                    "divided by every position"),
    "raw logits": Mutant(lambda l, i, m: -(l[:, :-1].float().gather(-1, i[:, 1:, None]).squeeze(-1) * m[:, 1:]).sum()
                         / m[:, 1:].sum(), "no log-softmax"),
    "sign": Mutant(lambda l, i, m: -right_loss(l, i, m), "sign flipped"),
    "probabilities": Mutant(lambda l, i, m: -(_parts(l, i, m)[0].exp() * _parts(l, i, m)[1]).sum()
                            / _parts(l, i, m)[1].sum(), "probabilities instead of log-probabilities"),
    "softmax over time": Mutant(lambda l, i, m: -(torch.log_softmax(l[:, :-1].float(), 1).gather(-1, i[:, 1:, None])
                                                  .squeeze(-1) * m[:, 1:]).sum() / m[:, 1:].sum(),
                                "log-softmax over the wrong dimension"),
    "nan on empty batch": Mutant(lambda l, i, m: -(_parts(l, i, m)[0] * _parts(l, i, m)[1]).sum()
                                 / _parts(l, i, m)[1].sum(), "no response tokens.*expected 0.0"),
    "empty batch returns a constant": Mutant(_empty_constant, "constant 0.0 with no gradient"),
    "log-softmax in bfloat16": Mutant(_bf16_log_softmax, "log-softmax computed in bfloat16"),
    "F.cross_entropy on bfloat16 logits": Mutant(_cross_entropy_bf16, "log-softmax computed in bfloat16"),
    "detached": Mutant(lambda l, i, m: right_loss(l, i, m).detach(), "no gradient"),
    "python float": Mutant(lambda l, i, m: right_loss(l, i, m).item(), "scalar tensor"),
    "per-token vector": Mutant(lambda l, i, m: -(_parts(l, i, m)[0] * _parts(l, i, m)[1]), "scalar tensor"),
    "crashes": Mutant(lambda l, i, m: l @ i, "raised"),
    "not written": Mutant(_not_written, "not written yet"),
}


# ---- check_response_mask ---------------------------------------------------------------------------------

def right_mask(tok, prompt, response):
    p = tok(prompt)["input_ids"]
    r = tok(response)["input_ids"] + [tok.eos_token_id]
    return p + r, [0] * len(p) + [1] * len(r)


def _mask_mutant(how):
    def wrong(tok, prompt, response):
        p, r, e = tok(prompt)["input_ids"], tok(response)["input_ids"], [tok.eos_token_id]
        if how == "joint":            # one string: BPE may merge across the seam; mask from the prompt's length
            ids = tok(prompt + response)["input_ids"] + e
            return ids, [0] * len(p) + [1] * (len(ids) - len(p))
        return {
            "no eos": (p + r, [0] * len(p) + [1] * len(r)),
            "eos unmasked": (p + r + e, [0] * len(p) + [1] * len(r) + [0]),
            "prompt masked": (p + r + e, [1] * (len(p) + len(r) + 1)),
            "inverted": (p + r + e, [1] * len(p) + [0] * (len(r) + 1)),
            "one late": (p + r + e, [0] * (len(p) + 1) + [1] * len(r)),
            "one early": (p + r + e, [0] * (len(p) - 1) + [1] * (len(r) + 2)),
            "short mask": (p + r + e, [0] * len(p) + [1] * len(r)),
            "ids only": p + r + e,
        }[how]
    return wrong


MASK_MUTANTS = {
    "no EOS appended": Mutant(_mask_mutant("no eos"), "does not end the sequence with EOS"),
    "EOS left out of the mask": Mutant(_mask_mutant("eos unmasked"), "leaves the final EOS out of the mask"),
    "prompt marked too": Mutant(_mask_mutant("prompt masked"), "marks the prompt as well"),
    "mask inverted": Mutant(_mask_mutant("inverted"), "mask inverted"),
    "mask one token late": Mutant(_mask_mutant("one late"), "mask starts at token"),
    "mask one token early": Mutant(_mask_mutant("one early"), "mask starts at token"),
    "prompt + response tokenised as one string": Mutant(_mask_mutant("joint"),
                                                        "tokenised prompt \\+ response as one string"),
    "mask shorter than the ids": Mutant(_mask_mutant("short mask"), "ids but a mask of"),
    "returns the ids only": Mutant(_mask_mutant("ids only"), "should return \\(input_ids, response_mask\\)"),
    "not written": Mutant(_not_written, "not written yet"),
}


# ---- check_conversation_mask -----------------------------------------------------------------------------

def right_conversation(tok, conversation):
    ids, mask, read = [], [], ""
    for m in conversation:
        if m["role"] != "assistant":
            read += ROLE_HEADERS[m["role"]] + m["content"] + READ_TURN_END
            continue
        read_ids = tok(read + ROLE_HEADERS["assistant"])["input_ids"]
        reply_ids = tok(m["content"])["input_ids"] + [tok.eos_token_id]
        ids += read_ids + reply_ids
        mask += [0] * len(read_ids) + [1] * len(reply_ids)
        read = ""
    return ids, mask


def _by_piece(tok, conversation, *, marks=("reply", "eos"), eos_after=True, last_only=False, first_only=False,
              keep_system=True, separator=READ_TURN_END):
    """Build the conversation piece by piece (header, content, end), marking the pieces in `marks`."""
    ids, mask = [], []
    replies = [k for k, m in enumerate(conversation) if m["role"] == "assistant"]
    for k, m in enumerate(conversation):
        role = m["role"]
        if role == "system" and not keep_system:
            continue
        reply = role == "assistant"
        counted = reply and (not last_only or k == replies[-1]) and (not first_only or k == replies[0])
        header = tok(ROLE_HEADERS[role])["input_ids"]
        content = tok(m["content"])["input_ids"]
        end = ([tok.eos_token_id] if eos_after or k == replies[-1] else []) if reply else tok(separator)["input_ids"]
        ids += header + content + end
        mask += [int(("header" in marks and reply) or ("all headers" in marks))] * len(header)
        mask += [int((counted and "reply" in marks) or (role == "user" and "user" in marks)
                     or (role == "system" and "system" in marks))] * len(content)
        mask += [int(counted and "eos" in marks)] * len(end)
    return ids, mask


def _rendered(tok, conversation):
    text = "".join(ROLE_HEADERS[m["role"]] + m["content"] + (tok.eos_token if m["role"] == "assistant"
                                                                else READ_TURN_END) for m in conversation)
    return text, tok(text, return_offsets_mapping=True)


def _searched_for_the_header(tok, conversation):
    """Render the text, then mark from each '### Response:\\n' found in it to the next EOS (a text search)."""
    text, enc = _rendered(tok, conversation)
    marked, start = set(), 0
    while (at := text.find(ROLE_HEADERS["assistant"], start)) >= 0:
        begin = at + len(ROLE_HEADERS["assistant"])
        end = text.index(tok.eos_token, begin) + len(tok.eos_token)
        marked.update(range(begin, end))
        start = end
    return enc["input_ids"], [int(a in marked) for a, _ in enc["offset_mapping"]]


def _ends_turns_at_blank_lines(tok, conversation):
    """Mark from each '### Response:\\n' to the next EOS or blank line: a reply with a blank line is cut short."""
    text, enc = _rendered(tok, conversation)
    marked, start = set(), 0
    while (at := text.find(ROLE_HEADERS["assistant"], start)) >= 0:
        begin = at + len(ROLE_HEADERS["assistant"])
        eos_at, blank_at = text.index(tok.eos_token, begin), text.find("\n\n", begin)
        end = blank_at if 0 <= blank_at < eos_at else eos_at + len(tok.eos_token)
        marked.update(range(begin, end))
        start = end
    return enc["input_ids"], [int(a in marked) for a, _ in enc["offset_mapping"]]


def _without_eos(tok, conversation):
    ids, mask = right_conversation(tok, conversation)
    kept = [k for k, i in enumerate(ids) if i != tok.eos_token_id]
    return [ids[k] for k in kept], [mask[k] for k in kept]


def _shift(fn, how):
    def wrong(tok, conversation):
        ids, mask = fn(tok, conversation)
        return ids, ([0] + mask[:-1]) if how == "late" else (mask[1:] + [0])
    return wrong


CONVERSATION_MUTANTS = {
    "user turns supervised": Mutant(lambda t, c: _by_piece(t, c, marks=("reply", "eos", "user")),
                                    "marks the user turns"),
    "system message supervised": Mutant(lambda t, c: _by_piece(t, c, marks=("reply", "eos", "system")),
                                        "marks the system message"),
    "EOS not supervised": Mutant(lambda t, c: _by_piece(t, c, marks=("reply",)), "EOS that ends each assistant turn"),
    "only the last assistant turn": Mutant(lambda t, c: _by_piece(t, c, last_only=True),
                                           "only the last assistant turn"),
    "only the first assistant turn": Mutant(lambda t, c: _by_piece(t, c, first_only=True),
                                            "only the first assistant turn"),
    "'### Response:' header supervised": Mutant(lambda t, c: _by_piece(t, c, marks=("reply", "eos", "header")),
                                                "marks the '### Response:' header"),
    "every header supervised": Mutant(lambda t, c: _by_piece(t, c, marks=("reply", "eos", "all headers")),
                                      "header"),
    "mask one token late": Mutant(_shift(right_conversation, "late"), "off by one.*late"),
    "mask one token early": Mutant(_shift(right_conversation, "early"), "off by one.*early"),
    "no EOS after the replies": Mutant(_without_eos, "does not end the assistant turns with EOS"),
    "EOS after the last reply only": Mutant(lambda t, c: _by_piece(t, c, eos_after=False),
                                            "EOS after the last assistant turn only"),
    "system message dropped": Mutant(lambda t, c: _by_piece(t, c, keep_system=False), "leaves out the system message"),
    "turns joined by one newline": Mutant(lambda t, c: _by_piece(t, c, separator="\n"), "different text.*template"),
    "mask found by searching the text for '### Response:'": Mutant(_searched_for_the_header,
                                                                   "quotes the template's '### Response:' header"),
    "a turn ended at a blank line": Mutant(_ends_turns_at_blank_lines, "only part of assistant message"),
    "mask inverted": Mutant(lambda t, c: (lambda ids, mask: (ids, [1 - m for m in mask]))(*right_conversation(t, c)),
                            "inverted"),
    "every token supervised": Mutant(lambda t, c: (lambda ids, mask: (ids, [1] * len(ids)))(*right_conversation(t, c)),
                                     "marks the user turns"),
    "returns the ids only": Mutant(lambda t, c: right_conversation(t, c)[0], "should return \\(input_ids, mask\\)"),
    "not written": Mutant(_not_written, "not written yet"),
}

BANKS = [
    Bank("check_sft_loss", check_sft_loss, right_loss, LOSS_MUTANTS),
    Bank("check_response_mask", lambda fn: check_response_mask(fn, tokenizer()), right_mask, MASK_MUTANTS),
    Bank("check_conversation_mask", lambda fn: check_conversation_mask(fn, tokenizer()), right_conversation,
         CONVERSATION_MUTANTS),
]


# ---- check_padded_batch ----------------------------------------------------------------------------------

def right_pad_batch(examples, pad_id):
    T = max(len(e["input_ids"]) for e in examples)
    ids, attention, mask = [], [], []
    for e in examples:
        n = T - len(e["input_ids"])
        ids.append(e["input_ids"] + [pad_id] * n)
        attention.append([1] * len(e["input_ids"]) + [0] * n)
        mask.append(e["response_mask"] + [0] * n)
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(attention),
            "response_mask": torch.tensor(mask)}


def _pad_mutant(how):
    def wrong(examples, pad_id):
        batch = right_pad_batch(examples, pad_id)
        ids, attention, mask = batch["input_ids"], batch["attention_mask"], batch["response_mask"]
        if how == "mask by id":
            mask = mask * (ids != pad_id)
        elif how == "attention by id":
            attention = (ids != pad_id).long()
        elif how == "both by id":
            attention = (ids != pad_id).long()
            mask = mask * attention
        elif how == "mask padded with 1":
            mask = torch.where(attention.bool(), mask, torch.ones_like(mask))
        elif how == "attention all 1":
            attention = torch.ones_like(attention)
        elif how == "attention inverted":
            attention = 1 - attention
        elif how == "pad with 0":
            ids = torch.where(attention.bool(), ids, torch.zeros_like(ids))
        elif how == "left":
            T = ids.shape[1]
            ids = torch.tensor([[pad_id] * (T - len(e["input_ids"])) + e["input_ids"] for e in examples])
            attention = torch.tensor([[0] * (T - len(e["input_ids"])) + [1] * len(e["input_ids"]) for e in examples])
            mask = torch.tensor([[0] * (T - len(e["input_ids"])) + e["response_mask"] for e in examples])
        elif how == "fixed length":
            extra = torch.full((ids.shape[0], 2), pad_id)
            ids, attention, mask = (torch.cat([ids, extra], 1), torch.cat([attention, 0 * extra], 1),
                                    torch.cat([mask, 0 * extra], 1))
        elif how == "shortest":
            T = min(len(e["input_ids"]) for e in examples)
            ids, attention, mask = ids[:, :T], attention[:, :T], mask[:, :T]
        elif how == "lists":
            return {k: v.tolist() for k, v in batch.items()}
        return {"input_ids": ids, "attention_mask": attention, "response_mask": mask}
    return wrong


def _pads_in_place(examples, pad_id):
    T = max(len(e["input_ids"]) for e in examples)
    for e in examples:
        n = T - len(e["input_ids"])
        e["attention_mask"] = [1] * len(e["input_ids"]) + [0] * n
        e["input_ids"] += [pad_id] * n
        e["response_mask"] += [0] * n
    return {k: torch.tensor([e[k] for e in examples]) for k in ("input_ids", "attention_mask", "response_mask")}


_batching_helper = collate          # the course's helper under a name of the student's choosing

PAD_MUTANTS = {
    "response mask by id (input_ids != pad_id)": Mutant(_pad_mutant("mask by id"), "masks by id.*own EOS"),
    "attention mask by id": Mutant(_pad_mutant("attention by id"), "attention mask from the ids"),
    "both masks by id": Mutant(_pad_mutant("both by id"), "attention mask from the ids"),
    "padding marked as loss": Mutant(_pad_mutant("mask padded with 1"), "1s in the response mask on the padding"),
    "padding attended": Mutant(_pad_mutant("attention all 1"), "attend to the padding"),
    "attention mask inverted": Mutant(_pad_mutant("attention inverted"), "attention mask inverted"),
    "pads with 0, not pad_id": Mutant(_pad_mutant("pad with 0"), "pads with 0 instead of pad_id"),
    "pads on the left": Mutant(_pad_mutant("left"), "pads on the left"),
    "pads past the longest": Mutant(_pad_mutant("fixed length"), "longer than the longest"),
    "cuts to the shortest": Mutant(_pad_mutant("shortest"), "cut to less than the longest"),
    "returns lists": Mutant(_pad_mutant("lists"), "should return tensors"),
    "pads the examples in place": Mutant(_pads_in_place, "changes the examples it was given"),
    "hands the work to collate": Mutant(lambda examples, pad_id: collate(examples, pad_id),
                                        "hands the work to the course's collate"),
    "calls collate under another name": Mutant(lambda examples, pad_id: _batching_helper(examples, pad_id),
                                               "hands the work to the course's collate"),
    "not written": Mutant(_not_written, "not written yet"),
}

BANKS.append(Bank("check_padded_batch", check_padded_batch, right_pad_batch, PAD_MUTANTS))
