"""Tokens as coloured text: which ones are prompt, which carry loss, which are the EOS and which are padding.

    show_tokens(tok, enc["input_ids"], enc["response_mask"])                 # one example
    show_tokens(tok, batch["input_ids"][0], batch["response_mask"][0],       # a padded row
                attention_mask=batch["attention_mask"][0])
    show_tokens(tok, ids, mask, losses=per_token_loss)                        # loss as a heat on its tokens

A notebook shows one output with two forms: HTML with colours for JupyterLab, Colab and GitHub, and a
plain-text twin that nbval compares and a terminal prints. In the text form a token that carries loss is
wrapped in [brackets], a padding token is written as a dot per token inside {pad ×N}, and a token whose
loss is shown gets it after a colon. Whitespace is made visible (newline as ↵, a leading space as ·).
"""
from __future__ import annotations

import html
from dataclasses import dataclass

# What a token is, in the order the legend lists them, with its colour in the HTML form.
KINDS = {
    "prompt": ("prompt (context, no loss)", "#e8e8e8"),
    "response": ("response (loss)", "#b9e6b9"),
    "eos": ("EOS (loss)", "#f6c76b"),
    "eos_no_loss": ("EOS without loss", "#f3a0a0"),
    "pad": ("padding (not attended)", "#cfe0f5"),
}


@dataclass(frozen=True)
class Token:
    piece: str
    kind: str
    loss: float | None = None


def _ints(values, name: str) -> list[int]:
    if values is None:
        return None
    if hasattr(values, "tolist"):
        values = values.tolist()
    values = list(values)
    if values and isinstance(values[0], list):
        raise ValueError(f"{name} should be one row of tokens, got a batch of {len(values)} rows: pass row [b]")
    return [int(v) for v in values]


def classify(input_ids, response_mask=None, attention_mask=None, eos_token_id: int | None = None) -> list[str]:
    """The kind of every token (see KINDS): padding where attention_mask is 0, EOS by its id, loss by the mask."""
    ids = _ints(input_ids, "input_ids")
    mask = _ints(response_mask, "response_mask") or [0] * len(ids)
    attention = _ints(attention_mask, "attention_mask") or [1] * len(ids)
    for name, values in (("response_mask", mask), ("attention_mask", attention)):
        if len(values) != len(ids):
            raise ValueError(f"{name} has {len(values)} entries for {len(ids)} input_ids")
    kinds = []
    for i, m, a in zip(ids, mask, attention):
        if not a:
            kinds.append("pad")
        elif i == eos_token_id:
            kinds.append("eos" if m else "eos_no_loss")
        else:
            kinds.append("response" if m else "prompt")
    return kinds


def _visible(piece: str) -> str:
    piece = piece.replace("\n", "↵")
    return "·" + piece[1:] if piece.startswith(" ") else piece


def as_text(tokens: list[Token]) -> str:
    out, pads = [], 0
    for t in tokens + [Token("", "end")]:
        if t.kind == "pad":
            pads += 1
            continue
        if pads:
            out.append(f"{{pad ×{pads}}}")
            pads = 0
        if t.kind == "end":
            break
        piece = t.piece.replace("\n", "↵\n") if t.kind == "prompt" else _visible(t.piece)
        if t.loss is not None:
            piece = f"{piece}:{t.loss:.2f}"
        out.append(f"[{piece}]" if t.kind in ("response", "eos") else piece)
    return "".join(out)


def as_html(tokens: list[Token]) -> str:
    top = max((t.loss for t in tokens if t.loss is not None), default=None)
    spans = []
    for t in tokens:
        label, colour = KINDS[t.kind]
        title = label + (f"; loss {t.loss:.3f}" if t.loss is not None else "")
        style = f"background:{colour};"
        if t.loss is not None and top:
            style += f"box-shadow: inset 0 -0.35em rgba(200,30,30,{min(1.0, t.loss / top):.2f});"
        text = html.escape(_visible(t.piece))
        spans.append(f'<span title="{html.escape(title)}" style="{style}padding:1px 0;margin:0 1px;'
                     f'border-radius:3px">{text}</span>' + ("<br>" if "\n" in t.piece else ""))
    used = [k for k in KINDS if any(t.kind == k for t in tokens)]
    legend = " ".join(f'<span style="background:{KINDS[k][1]};padding:1px 4px;border-radius:3px">{KINDS[k][0]}</span>'
                      for k in used)
    if top:
        legend += ' <span style="box-shadow: inset 0 -0.35em rgba(200,30,30,1)">red underline: loss</span>'
    return (f'<div style="font-family:monospace;line-height:1.9;white-space:normal">{"".join(spans)}'
            f'<div style="margin-top:4px;font-size:85%">{legend}</div></div>')


def tokens_of(tokenizer, input_ids, response_mask=None, attention_mask=None, losses=None) -> list[Token]:
    """The tokens of one row with their kinds, and per-token losses where given (one per token, or one per
    token after the first, as a shifted loss gives them: the first token is predicted by nothing)."""
    ids = _ints(input_ids, "input_ids")
    kinds = classify(ids, response_mask, attention_mask, tokenizer.eos_token_id)
    if losses is not None:
        losses = [float(v) for v in (losses.tolist() if hasattr(losses, "tolist") else losses)]
        if len(losses) == len(ids) - 1:
            losses = [None] + losses
        if len(losses) != len(ids):
            raise ValueError(f"losses has {len(losses)} entries for {len(ids)} tokens (give len(ids) or len(ids) - 1)")
    pieces = [tokenizer.decode([i]) for i in ids]
    return [Token(p, k, None if losses is None or k in ("prompt", "pad") or losses[n] is None else losses[n])
            for n, (p, k) in enumerate(zip(pieces, kinds))]


def show_tokens(tokenizer, input_ids, response_mask=None, *, attention_mask=None, losses=None) -> None:
    """Display one row of tokens coloured by kind (HTML), with its plain-text twin (see the module doc)."""
    from IPython.display import display
    tokens = tokens_of(tokenizer, input_ids, response_mask, attention_mask, losses)
    display({"text/plain": as_text(tokens), "text/html": as_html(tokens)}, raw=True)
