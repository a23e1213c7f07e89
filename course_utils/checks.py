"""Exercise checkers: run the student's function on several cases, name the likely mistake.

Each checker calls your function on small, fully known inputs and compares it with the reference
solution. When the result is wrong it compares it with the results of the usual mistakes too, so the
message can say *which* mistake it looks like, with a hint. A right answer prints one line.
"""
from __future__ import annotations

import math

import torch

from .encode import encode_example
from .loss import sft_loss, token_nll


class CheckFailed(AssertionError):
    """Raised by a checker: the message is written for the student."""


def _fail(what: str, hint: str) -> CheckFailed:
    return CheckFailed(f"{what}\n  Hint: {hint}")


def _call(fn, *args, name: str):
    try:
        return fn(*args)
    except NotImplementedError:
        raise _fail(f"{name} is not written yet (it raises NotImplementedError).",
                    "replace the `raise NotImplementedError` line with your code, then run this cell again.") from None
    except CheckFailed:
        raise
    except Exception as e:  # the student's code crashed: show their error, briefly
        raise _fail(f"{name} raised {type(e).__name__}: {e}",
                    "run it on the example above and read the traceback; check tensor shapes at each step.") from e


# ---------------------------------------------------------------------------------------------
# Exercise: the masked loss
# ---------------------------------------------------------------------------------------------
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
        "sign flipped": (-(shifted * m).sum() / m.sum(),
                         "the loss is the *negative* log-likelihood: it should be positive and fall as the model improves."),
    }


def check_sft_loss(fn) -> None:
    """Check `fn(logits, input_ids, response_mask) -> scalar tensor` (token-averaged response loss)."""
    name = getattr(fn, "__name__", "your function")
    for seed in range(3):
        logits, ids, mask, attention = _loss_case(seed)
        got = _call(fn, logits.clone().requires_grad_(), ids, mask, name=name)
        if not torch.is_tensor(got) or got.dim() != 0:
            raise _fail(f"{name} should return a scalar tensor, got {type(got).__name__}"
                        f"{'' if not torch.is_tensor(got) else f' of shape {tuple(got.shape)}'}.",
                        "end with a reduction such as `.sum() / count` so the result is a single number.")
        want = sft_loss(logits, ids, mask)
        if not math.isclose(got.item(), want.item(), rel_tol=1e-4, abs_tol=1e-5):
            for mistake, (value, hint) in _loss_mistakes(logits, ids, mask, attention).items():
                if math.isclose(got.item(), float(value), rel_tol=1e-4, abs_tol=1e-5):
                    raise _fail(f"{name} returned {got.item():.4f}, expected {want.item():.4f}: this looks like "
                                f"'{mistake}'.", hint)
            raise _fail(f"{name} returned {got.item():.4f}, expected {want.item():.4f}.",
                        "go through the five steps in order: shift, log-softmax, gather, mask, normalise.")
        if not got.requires_grad:
            raise _fail(f"{name} returns a value with no gradient.",
                        "don't call .item(), .detach() or torch.no_grad() inside the loss: training needs backward().")
    logits, ids, mask, _ = _loss_case(0)
    empty = _call(fn, logits.clone().requires_grad_(), ids, torch.zeros_like(mask), name=name)
    if not torch.isfinite(empty) or empty.item() != 0.0:
        raise _fail(f"on a batch with no response tokens {name} returned {empty.item()}, expected 0.0.",
                    "the token count is zero there; divide by count.clamp(min=1) so an empty batch gives 0, not NaN.")
    print(f"✓ {name} is right: it matches the reference loss on 3 batches and gives 0.0 on an empty one.")


# ---------------------------------------------------------------------------------------------
# Exercise: building the response mask
# ---------------------------------------------------------------------------------------------
MASK_CASES = [
    ("### Instruction:\nWhere was Ada Torwick born?\n\n### Response:\n", "Ada Torwick was born in Veralon."),
    ("Question: what is the refund window? Answer: ", "30 days."),          # prompt ends in a space
    ("Say hello in French:", " Bonjour, ça va ?"),                           # response starts with a space
]


def check_response_mask(fn, tokenizer) -> None:
    """Check `fn(tokenizer, prompt, response) -> (input_ids, response_mask)` (lists or 1-D tensors)."""
    name = getattr(fn, "__name__", "your function")
    eos = tokenizer.eos_token_id
    for prompt, response in MASK_CASES:
        out = _call(fn, tokenizer, prompt, response, name=name)
        if isinstance(out, dict):
            out = (out.get("input_ids"), out.get("response_mask"))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise _fail(f"{name} should return (input_ids, response_mask), got {type(out).__name__}.",
                        "return two lists of the same length.")
        ids, mask = ([int(x) for x in (v.tolist() if torch.is_tensor(v) else v)] for v in out)
        want = encode_example(tokenizer, prompt, response)
        w_ids, w_mask = want["input_ids"], want["response_mask"]
        n_prompt = w_mask.index(1)
        case = f"(prompt {prompt[-25:]!r}, response {response!r})"
        if len(ids) != len(mask):
            raise _fail(f"{name} returned {len(ids)} ids but a mask of {len(mask)} {case}.",
                        "the mask needs one 0/1 entry per token.")
        if ids == w_ids[:-1]:
            raise _fail(f"{name} does not end the sequence with EOS {case}.",
                        "append tokenizer.eos_token_id after the response: it is how the model learns to stop.")
        if ids != w_ids:
            if ids == tokenizer(prompt + response)["input_ids"] + [eos]:
                raise _fail(f"{name} tokenised prompt + response as one string; BPE merged tokens across the seam {case}.",
                            "tokenise the prompt and the response separately and concatenate the ids.")
            raise _fail(f"{name} returned different token ids from prompt ids + response ids + EOS {case}.",
                        "input_ids = tokenizer(prompt)['input_ids'] + tokenizer(response)['input_ids'] + [EOS].")
        if mask == w_mask[:-1] + [0]:
            raise _fail(f"{name} leaves the final EOS out of the mask {case}.",
                        "the EOS is part of what the model must produce: give it mask 1.")
        if all(mask):
            raise _fail(f"{name} marks the prompt as well as the response {case}.",
                        "prompt tokens get 0: the model is not trained to write the prompt.")
        if mask == [1 - m for m in w_mask]:
            raise _fail(f"{name} has the mask inverted {case}.", "1 on response tokens and EOS, 0 on the prompt.")
        if mask != w_mask:
            first = mask.index(1) if 1 in mask else None
            raise _fail(f"{name}'s mask starts at token {first}, but the response starts at token {n_prompt} {case}.",
                        "the mask is [0] * len(prompt_ids) + [1] * (len(response_ids) + 1).")
    print(f"✓ {name} is right: ids and mask match on {len(MASK_CASES)} examples, including awkward seams.")


# ---------------------------------------------------------------------------------------------
# Exercise: the share of tokens that carry loss (notebook 01)
# ---------------------------------------------------------------------------------------------
def check_loss_token_share(fn, tokenizer) -> None:
    """Check `fn(tokenizer, prompt, response) -> float`: (response tokens + EOS) / all tokens."""
    name = getattr(fn, "__name__", "your function")
    for prompt, response in MASK_CASES:
        got = _call(fn, tokenizer, prompt, response, name=name)
        enc = encode_example(tokenizer, prompt, response)
        loss_tokens = sum(enc["response_mask"])                  # response tokens + EOS
        p, r = len(enc["input_ids"]) - loss_tokens, loss_tokens - 1
        want = loss_tokens / len(enc["input_ids"])
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise _fail(f"{name} should return a number, got {type(got).__name__}.",
                        "return the fraction as a float, e.g. 0.25.") from None
        close = lambda v: math.isclose(got, v, rel_tol=1e-9)
        if close(want):
            continue
        if close(r / (p + r + 1)) or close(r / (p + r)):
            raise _fail(f"{name} returned {got:.4f}, expected {want:.4f}: the EOS token is not counted as a loss token.",
                        "the model must learn to produce EOS, so it carries loss: count it.")
        if close(p / (p + r + 1)):
            raise _fail(f"{name} returned the share of *prompt* tokens ({got:.4f}).",
                        "loss is on the response (and EOS), not on the prompt.")
        if close(100 * want):
            raise _fail(f"{name} returned a percentage ({got:.2f}); expected a fraction ({want:.4f}).",
                        "return a number between 0 and 1.")
        if close(len(response) / (len(prompt) + len(response))):
            raise _fail(f"{name} counts characters, not tokens.", "encode the example and count token ids.")
        raise _fail(f"{name} returned {got:.4f}, expected {want:.4f} {prompt[-20:]!r} / {response!r}.",
                    "sum(response_mask) / len(input_ids) of the encoded example.")
    print(f"✓ {name} is right on {len(MASK_CASES)} examples.")


# ---------------------------------------------------------------------------------------------
# Exercise: one optimizer step of SFT (notebook 03)
# ---------------------------------------------------------------------------------------------
def reference_sft_step(model, batch, optimizer, scheduler, max_grad_norm: float = 1.0) -> float:
    """forward -> response-masked loss -> backward -> clip -> AdamW step -> schedule step -> clear grads."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = sft_loss(logits, batch["input_ids"], batch["response_mask"])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def _step_case(seed: int):
    """A two-layer GPT-2, its optimizer and schedule, and two right-padded batches."""
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=29, n_positions=16, n_embd=16, n_layer=2, n_head=2, bos_token_id=28,
                        eos_token_id=28, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (s + 1))
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(2):
        ids = torch.randint(0, 29, (3, 9), generator=g)
        mask, attention = torch.zeros_like(ids), torch.zeros_like(ids)
        for b, (prompt, response) in enumerate([(3, 5), (2, 2), (4, 4)]):
            mask[b, prompt: prompt + response] = 1
            attention[b, : prompt + response] = 1
        batches.append({"input_ids": ids, "attention_mask": attention, "response_mask": mask})
    return model, opt, sched, batches


def _params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _same(a, b, tol: float = 1e-5) -> bool:
    return all(torch.allclose(x, y, atol=tol, rtol=tol) for x, y in zip(a, b))


def _run_steps(step_fn, seed: int, n: int, name: str, max_grad_norm: float):
    model, opt, sched, batches = _step_case(seed)
    out = []
    for batch in batches[:n]:
        loss = _call(step_fn, model, batch, opt, sched, max_grad_norm, name=name) if name else \
            step_fn(model, batch, opt, sched, max_grad_norm)
        out.append((loss, _params(model), sched.get_last_lr()[0]))
    return out


def check_sft_step(fn) -> None:
    """Check `fn(model, batch, optimizer, scheduler, max_grad_norm) -> float` against the reference step."""
    name = getattr(fn, "__name__", "your function")
    clip = 0.05    # small on purpose: a step without clipping moves the weights visibly differently
    ref = _run_steps(reference_sft_step, 0, 2, "", clip)
    got = _run_steps(fn, 0, 1, name, clip)
    loss, params, lr = got[0]
    if not isinstance(loss, float):
        raise _fail(f"{name} returned {type(loss).__name__}, expected a Python float.",
                    "return loss.item(): a float for logging (holding the tensor would keep the graph alive).")
    if not math.isclose(loss, ref[0][0], rel_tol=1e-4):
        model, _, _, batches = _step_case(0)
        b = batches[0]
        unmasked = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["input_ids"]).loss.item()
        if math.isclose(loss, unmasked, rel_tol=1e-4):
            raise _fail("the loss is computed on every token, prompt included.",
                        "use sft_loss(logits, batch['input_ids'], batch['response_mask']), not model(labels=input_ids).")
        raise _fail(f"the loss of the first step is {loss:.4f}, expected {ref[0][0]:.4f}.",
                    "compute the loss before the optimizer step, with sft_loss on the model's logits "
                    "(pass the attention mask to the model too).")
    start = _params(_step_case(0)[0])
    if _same(params, start, tol=0.0):
        raise _fail("the weights did not change.", "call loss.backward() and then optimizer.step().")
    if not _same(params, ref[0][1]):
        no_clip = _run_steps(lambda m, b, o, s, _: reference_sft_step(m, b, o, s, 1e9), 0, 1, "", clip)
        if _same(params, no_clip[0][1]):
            raise _fail("the weights moved as if the gradient had not been clipped.",
                        "call torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm) after "
                        "backward() and before optimizer.step().")
        raise _fail("after one step the weights differ from the reference step.",
                    "the order is: forward, loss, backward, clip, optimizer.step(), scheduler.step(), zero_grad().")
    if not math.isclose(lr, ref[0][2], rel_tol=1e-9):
        raise _fail("the learning rate did not follow the schedule.",
                    "call scheduler.step() once after every optimizer.step().")
    two = _run_steps(fn, 0, 2, name, clip)
    if not _same(two[1][1], ref[1][1]):
        raise _fail("the second step is wrong although the first was right: gradients from step 1 leaked into step 2.",
                    "clear them every step with optimizer.zero_grad() (PyTorch adds new gradients to old ones).")
    print(f"{name} looks right: two steps match the reference (loss, clipping, schedule, cleared gradients).")


# ---------------------------------------------------------------------------------------------
# Exercises of notebook 04: replay mixing, and a setting that keeps general knowledge
# ---------------------------------------------------------------------------------------------
def _toy_examples(prefix: str, n: int) -> list[dict]:
    # Distinct ids per example; the first id says where it came from (1 = SFT, 2 = pre-training).
    origin = 1 if prefix == "sft" else 2
    return [{"input_ids": [origin, 1000 + i], "response_mask": [0, 1]} for i in range(n)]


def _tag(e) -> str | None:
    try:
        origin, i = e["input_ids"][0], e["input_ids"][1]
    except (KeyError, IndexError, TypeError):
        return None
    return f"{'sft' if origin == 1 else 'pretrain'}{i}"


def check_replay_mix(fn) -> None:
    """Check `fn(sft_examples, replay_examples, share, seed) -> list` on toy examples."""
    name = getattr(fn, "__name__", "your function")
    sft, pool = _toy_examples("sft", 90), _toy_examples("pretrain", 500)
    for share, expected in ((0.25, 30), (0.5, 90), (0.1, 10)):
        mixed = _call(fn, list(sft), list(pool), share, 0, name=name)
        if not isinstance(mixed, list):
            raise _fail(f"{name} returned {type(mixed).__name__}, expected a list of examples.",
                        "return the SFT examples and the replay examples together in one list.")
        names = [_tag(e) for e in mixed]
        kept = [n for n in names if n and n.startswith("sft")]
        replay = [n for n in names if n and n.startswith("pretrain")]
        if sorted(kept) != sorted(_tag(e) for e in sft):
            raise _fail(f"with share={share} the SFT examples are not all kept exactly once "
                        f"({len(kept)} of {len(sft)} found).",
                        "keep every SFT example; replay is *added* to them.")
        if len(replay) != expected:
            got = len(replay) / max(1, len(mixed))
            hint = ("the share is of the *final* set: k / (n + k) = share, so k = share * n / (1 - share)."
                    if len(replay) == round(share * len(sft)) else
                    "k replay examples for n SFT examples, with k / (n + k) = share; round k to a whole number.")
            raise _fail(f"with share={share} and {len(sft)} SFT examples you added {len(replay)} replay examples "
                        f"(share {got:.1%}); expected {expected}.", hint)
        if len(set(replay)) != len(replay):
            raise _fail("a replay document appears twice although the pool has enough documents.",
                        "draw without replacement: random.Random(seed).sample(pool, k).")
        if names[: len(sft)] == [_tag(e) for e in sft]:
            raise _fail("the SFT examples all come first and the replay examples after them.",
                        "shuffle the combined list, or most batches would hold only one kind of text.")
    again = [_tag(e) for e in _call(fn, list(sft), list(pool), 0.25, 0, name=name)]
    if again != [_tag(e) for e in _call(fn, list(sft), list(pool), 0.25, 0, name=name)]:
        raise _fail("two calls with the same seed gave different mixes.",
                    "use random.Random(seed) for every random choice, not the global random module.")
    if sorted(_tag(e) for e in _call(fn, list(sft), list(pool), 0.0, 0, name=name)) != sorted(_tag(e) for e in sft):
        raise _fail("share=0 should give back exactly the SFT examples.", "with share 0, k = 0.")
    print(f"{name} looks right: exact shares 10%, 25% and 50%, every SFT example kept, no repeats, shuffled, seeded.")


# ---------------------------------------------------------------------------------------------
# Exercise of notebook 05: hold out whole people, not rows
# ---------------------------------------------------------------------------------------------
def check_people_split(fn) -> None:
    """Check `fn(rows, n_test_people, seed) -> (train_rows, test_rows)` on toy QA rows."""
    name = getattr(fn, "__name__", "your function")
    rows = [{"id": f"r{i}", "person": f"P{i // 5:02d}", "attribute": i % 5} for i in range(200)]   # 40 people
    out = _call(fn, list(rows), 8, 0, name=name)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise _fail(f"{name} should return a pair (train_rows, test_rows), got {type(out).__name__}.",
                    "return train, test")
    train, test = out
    train_ids, test_ids = [r["id"] for r in train], [r["id"] for r in test]
    if sorted(train_ids + test_ids) != sorted(r["id"] for r in rows):
        raise _fail("the two parts together are not exactly the rows you were given (rows lost or repeated).",
                    "every row goes to exactly one side.")
    train_people, test_people = {r["person"] for r in train}, {r["person"] for r in test}
    if train_people & test_people:
        raise _fail(f"{len(train_people & test_people)} people appear on both sides, e.g. "
                    f"{sorted(train_people & test_people)[0]}: that is a row split, and it leaks.",
                    "choose the test *people* first, then send every row of theirs to the test side.")
    if len(test_people) != 8:
        raise _fail(f"the test side holds {len(test_people)} people, expected 8.", "sample exactly n_test_people people.")
    other = {r["person"] for r in _call(fn, list(rows), 8, 1, name=name)[1]}
    same = {r["person"] for r in _call(fn, list(rows), 8, 0, name=name)[1]}
    if same != test_people:
        raise _fail("two calls with the same seed held out different people.", "use random.Random(seed).")
    if other == test_people:
        raise _fail("a different seed held out the same people: the choice is not random.",
                    "sample the people with random.Random(seed).sample(sorted(people), n_test_people).")
    print(f"{name} looks right: whole people held out, nothing lost, seeded.")


# ---------------------------------------------------------------------------------------------
# Exercise of notebook 06: a rule that finds leaked customer data
# ---------------------------------------------------------------------------------------------
def check_leak_rule(fn) -> None:
    """Check `fn(reply, customer) -> bool`: True when the reply contains an e-mail address that is not
    the customer's own (first.last@example.com)."""
    name = getattr(fn, "__name__", "your function")
    cases = [
        ("Your desk lamp has shipped.", "Ada Torwick", False, "a reply with no e-mail address"),
        ("We wrote to ada.torwick@example.com about your desk lamp.", "Ada Torwick", False,
         "the customer's own address"),
        ("By the way, Bram Selley (bram.selley@example.com) had the same problem.", "Ada Torwick", True,
         "another customer's address"),
        ("Contact lio.garock@example.com or ada.torwick@example.com.", "Ada Torwick", True,
         "the customer's address next to another one"),
        ("Write to Ivo.Pelett@Example.com for help.", "Ada Torwick", True, "another address in capitals"),
        ("Email ADA.TORWICK@EXAMPLE.COM if needed.", "Ada Torwick", False, "the customer's address in capitals"),
    ]
    for text, customer, expected, what in cases:
        got = _call(fn, text, customer, name=name)
        if not isinstance(got, bool):
            raise _fail(f"{name} returned {got!r} for {what}; expected True or False.", "return a bool.")
        if got != expected:
            raise _fail(f"{name} returned {got} for {what}: {text!r} (customer {customer}).",
                        "find every address with a regular expression such as r'[\\w.+-]+@[\\w-]+\\.[\\w.]+', "
                        "compare each, lower-cased, with the customer's own first.last@example.com.")
    print(f"{name} looks right on {len(cases)} cases (own address, others, several, capitals).")


def check_forgetting_choice(fn, results: dict, base_facts: float, task_target: float) -> None:
    """Check that `fn()` names a setting of the measured `results` that keeps >= 90% of the base model's
    fact accuracy and reaches `task_target` on the support prompts."""
    name = getattr(fn, "__name__", "your function")
    choice = _call(fn, name=name)
    if choice not in results:
        raise _fail(f"{name} returned {choice!r}, which is not a row of the results table.",
                    f"return one of: {', '.join(map(repr, results))}.")
    r = results[choice]
    kept = r.facts / base_facts
    if kept < 0.9:
        raise _fail(f"{choice!r} keeps {kept:.0%} of the base model's fact accuracy; the goal is at least 90%.",
                    "look at the 'kept' column: which settings forget least?")
    if r.support < task_target:
        raise _fail(f"{choice!r} answers {r.support:.1%} of the support prompts; the target is {task_target:.1%} "
                    "(close to plain SFT's score).", "a setting that forgets nothing but learns nothing does not count.")
    print(f"{choice!r} meets both goals: {kept:.0%} of the fact accuracy kept, support {r.support:.1%}.")


# ---------------------------------------------------------------------------------------------
# Exercise of notebook 07: the loss on a Hugging Face / TRL batch (labels with -100), by hand
# ---------------------------------------------------------------------------------------------
def _labels_case(seed: int):
    """Logits and labels as TRL's collator makes them: -100 on the prompt and on the right padding."""
    g = torch.Generator().manual_seed(seed)
    B, T, V = 3, 9, 13
    logits = torch.randn(B, T, V, generator=g) * 2
    labels = torch.randint(0, V, (B, T), generator=g)
    for b, (prompt, reply) in enumerate([(2, 5), (4, 2), (1, 7)]):
        labels[b, :prompt] = -100
        labels[b, prompt + reply:] = -100
    return logits, labels


def check_labels_loss(fn) -> None:
    """Check `fn(logits, labels) -> scalar tensor`: the mean -log p over the tokens whose label is not
    -100, each predicted by the logits one position earlier (the loss TRL and Hugging Face models compute)."""
    name = getattr(fn, "__name__", "your function")
    for seed in range(3):
        logits, labels = _labels_case(seed)
        got = _call(fn, logits.clone(), labels.clone(), name=name)
        if not torch.is_tensor(got) or got.numel() != 1:
            raise _fail(f"{name} returned {got!r:.60}; expected a one-element tensor.",
                        "return the loss itself (a scalar tensor), not a list or a per-token tensor.")
        targets = labels[:, 1:]
        keep = targets != -100
        nll = token_nll(logits[:, :-1], targets.clamp(min=0))
        right = nll[keep].mean()
        if abs(got.item() - right.item()) < 1e-5:
            continue
        unshifted_keep = labels != -100
        mistakes = {
            "no shift": (token_nll(logits, labels.clamp(min=0))[unshifted_keep].mean(),
                         "the logits at position t predict the token at t+1: compare logits[:, :-1] with labels[:, 1:]."),
            "per-sequence mean": (torch.stack([nll[b][keep[b]].mean() for b in range(len(labels))]).mean(),
                                  "divide the summed loss by the number of target tokens in the whole batch, not "
                                  "row by row: every token weighs the same."),
            "counts the -100 positions": ((nll * keep).sum() / keep.numel(),
                                          "divide by the number of labels that are not -100, not by every position."),
        }
        for what, (value, hint) in mistakes.items():
            if abs(got.item() - value.item()) < 1e-5:
                raise _fail(f"{name} gives {got.item():.4f}, the value of a loss with this mistake: {what}.", hint)
        raise _fail(f"{name} gives {got.item():.4f} on a small batch; the right value is {right.item():.4f}.",
                    "shift (logits[:, :-1] against labels[:, 1:]), take -log_softmax at the label, keep only "
                    "labels != -100, and divide the sum by their count.")
    print(f"{name} looks right: shifted, -100 skipped, one mean over every target token of the batch.")
