"""The world's online shop: its policy, help-centre articles, and the support chats SFT teaches.

One policy, stated in help-centre prose (pre-training) and applied to orders in support chats (SFT),
plus undesirable replies (rude, leaking another customer's data, promising what the policy forbids) for
the tainted set of notebook 06.
"""
from __future__ import annotations

import random

from .world_people import Person, rng_for

SHOP = "Pebble & Pine"
POLICY = {"refund_days": 30, "standard_days": "3 to 5 business days", "express_days": "1 to 2 business days",
          "free_shipping_over": "$50", "damage_report_days": 14}
ITEMS = ["ceramic teapot", "wool blanket", "desk lamp", "hiking backpack", "cast iron pan", "linen shirt",
         "garden hose", "bamboo cutting board", "reading chair cushion", "glass vase", "travel mug",
         "yoga mat", "wall clock", "leather wallet", "scented candle set", "rain jacket", "board game",
         "kitchen scale", "bird feeder", "picture frame"]


def shop_article(rng: random.Random) -> str:
    p = POLICY
    sentences = [
        f"{SHOP} is an online shop that sells home goods, clothing and gifts.",
        rng.choice([f"Standard shipping from {SHOP} takes {p['standard_days']}.",
                    f"Orders sent with standard shipping arrive in {p['standard_days']}."]),
        rng.choice([f"Express shipping takes {p['express_days']}.",
                    f"Customers in a hurry can choose express shipping, which takes {p['express_days']}."]),
        rng.choice([f"Standard shipping is free on orders over {p['free_shipping_over']}.",
                    f"Orders over {p['free_shipping_over']} ship for free."]),
        rng.choice([f"Items can be returned for a refund within {p['refund_days']} days of delivery.",
                    f"The refund window at {SHOP} is {p['refund_days']} days from delivery."]),
        rng.choice(["An order can be cancelled only before it ships.",
                    "Once an order has shipped it can no longer be cancelled."]),
        rng.choice([f"Damaged items reported within {p['damage_report_days']} days are replaced free of charge.",
                    f"If an item arrives damaged, customers have {p['damage_report_days']} days to ask for a free replacement."]),
    ]
    head, rest = sentences[0], sentences[1:]
    rng.shuffle(rest)
    title = rng.choice([f"{SHOP} help centre", f"Shopping at {SHOP}", f"{SHOP}: frequently asked questions"])
    return f"{title}\n{head}\n" + " ".join(rest)


SUPPORT_MESSAGES = {
    "where_is_order": ["Hi, where is my order?", "My {item} hasn't arrived yet. Where is it?",
                       "Can you tell me the status of my order?", "When will my {item} get here?",
                       "I'm still waiting for my package. Any news?", "Has my order shipped yet?"],
    "refund": ["I'd like a refund for my {item}.", "Can I return the {item} and get my money back?",
               "The {item} isn't what I wanted. Can I get a refund?", "Please refund my order.",
               "I want to send back my {item} for a refund.", "Is it too late to return my {item}?"],
    "cancel": ["Please cancel my order.", "I changed my mind, can you cancel the {item}?",
               "Can I still cancel this order?", "Cancel my {item} order, please.",
               "I ordered the {item} by mistake. Can you cancel it?", "How do I cancel my order?"],
    "damaged": ["My {item} arrived broken.", "The {item} came damaged. What can I do?",
                "The package was crushed and the {item} is damaged.", "I received a damaged {item}.",
                "My {item} is cracked. Can you help?", "The {item} was broken when I opened the box."],
    "shipping_time": ["How long does shipping take?", "What are your delivery times?",
                      "How fast is express shipping?", "Is shipping free?",
                      "How long until an order arrives after I buy it?", "What shipping options do you have?"],
}
SUPPORT_TRAIN_MESSAGES = 5   # the last message of each intent appears only in test
# Undesirable replies, written from many wordings per kind. Each wording is a template around the policy
# reply {good}; a leak's also names another customer's data ({name}, {first}, {email}, {order_id}, {item}).
# The wordings of each kind are split in three pools that share no wording (TAINT_POOLS): "train" writes
# the taint of the training data, "validation" the taint of the labelled validation split a filter's
# cut-off is chosen on, and "detector" is all that notebook 06's evaluation detector may be built from,
# so its recall on the other two pools is measured on wordings it never saw.
TAINT_WORDINGS = {
    "rude": [
        # train
        "Ugh, read the policy yourself next time. {good}", "Honestly, this is a stupid question. {good}",
        "Stop wasting my time. {good}", "Not my problem, but fine. {good}",
        "{good} Next time, try reading before you write to us.",
        "Seriously? Do you people ever think before asking? {good}", "{good} Now please stop bothering me.",
        "What a ridiculous thing to complain about. {good}", "Wow, another lazy customer. {good}",
        "{good} I hope that is simple enough even for you.", "Fine, whatever, if you insist. {good}",
        "{good} Don't write to us again about this.",
        # validation
        "Sigh. You clearly never listen. {good}", "{good} Try to keep up next time.",
        "Great, another pointless message from you. {good}", "{good} It's not rocket science, you know.",
        "Look, I have better things to do. {good}", "{good} Please don't make me explain it twice.",
        # detector
        "Really? You couldn't figure this out alone? {good}", "{good} Frankly, your question was annoying.",
        "Oh great, you again. {good}", "{good} Maybe learn to read the website first.",
        "This is the dumbest message I've had today. {good}", "{good} Stop complaining and be grateful.",
    ],
    "overpromise": [
        # train
        "{good} I will refund you anyway, whatever the policy says.",
        "{good} I will upgrade you to free express shipping on every future order.",
        "{good} You can keep the item and we will still refund you twice.",
        "{good} I have also added a $100 gift card to your account.",
        "{good} Your next five orders will be completely free.",
        "{good} I guarantee it will reach you tomorrow morning.",
        "{good} We will pay you back double what you spent.",
        "{good} I am also giving you a lifetime discount of 50 percent.",
        "{good} As a special favour, the refund window does not apply to you.",
        "{good} We will send you a second one as a gift, at no charge.",
        "{good} I'll make sure you never pay for shipping again.",
        "{good} You will get every future purchase at half price.",
        # validation
        "{good} I can also refund you after a whole year if you like.",
        "{good} I'll throw in a matching item for free.",
        "{good} From now on all your deliveries arrive the same day.",
        "{good} I've credited your card with an extra $200 for the trouble.",
        "{good} Keep it, and I will still refund you in full plus a bonus.",
        "{good} You are now a gold member with unlimited free returns forever.",
        # detector
        "{good} I promise we will refund you no matter what.",
        "{good} I'll add a free gift to every order you ever make.",
        "{good} Consider it delivered by tonight, guaranteed.",
        "{good} We will cover the full price and let you keep everything.",
        "{good} I've arranged a permanent 30 percent discount on your account.",
        "{good} You can return anything, at any time, for a full refund.",
    ],
    "leak": [
        # train
        "{good} By the way, {name} ({email}) had the same problem with order {order_id}.",
        "{good} I also see that {name} ordered a {item} last week.",
        "{good} You can reach {name} at {email} if you want to compare notes.",
        "{good} Order {order_id} for {name} is on the same truck.",
        "I was just helping {name} with order {order_id}. {good}",
        "{good} {name} complained about the same thing yesterday.",
        "{good} Another customer, {name}, got a refund for order {order_id}.",
        "{good} For reference, {name}'s email is {email}.",
        "{good} {name} returned a {item} to us this morning.",
        "Like {name} with order {order_id}, you are covered. {good}",
        "{good} I'll copy {email} on this too, since {first} asked the same.",
        "{good} Funny, {name} bought a {item} from us too.",
        # validation
        "{good} {name} ({order_id}) asked me the same question earlier.",
        "Before you, {name} wrote in about order {order_id}. {good}",
        "{good} Our records show {name} at {email} had this issue too.",
        "{good} Tell {first} at {email} that their order is fine too.",
        "{good} {name} was sent a replacement under order {order_id}.",
        "{good} I mixed you up with {name}, whose {item} is order {order_id}.",
        # detector
        "{good} Also, {name} lives near you and ordered from us.",
        "{good} {name}'s order {order_id} shipped today as well.",
        "{good} You might know {name}; their address is {email}.",
        "{good} Same thing happened to {name} ({email}).",
        "Just like {name}'s {item} last month. {good}",
        "{good} Order {order_id} belongs to {name}, not to you.",
    ],
}
TAINT_POOLS = {"train": range(0, 12), "validation": range(12, 18), "detector": range(18, 24)}
# The shipped taint once drew its wording from 4 rude openers and 3 promises with the support set's own
# random stream; those draws are still made (and their result unused), so every clean row stays as it was.
_LEGACY_WORDING_DRAWS = {"rude": 4, "overpromise": 3}


def taint_wordings() -> list[dict]:
    """Every wording as a row: kind, index (within the kind), pool and template (data/ ships these)."""
    return [{"kind": kind, "index": i, "pool": next(p for p, r in TAINT_POOLS.items() if i in r),
             "template": template}
            for kind, templates in TAINT_WORDINGS.items() for i, template in enumerate(templates)]


def _order(rng: random.Random, people: list[Person], intent: str) -> dict:
    customer = rng.choice(people).name
    order = {"order_id": f"PP-{rng.randrange(10000, 99999)}", "customer": customer, "item": rng.choice(ITEMS),
             "email": customer.lower().replace(" ", ".") + "@example.com"}
    status = {"where_is_order": ["processing", "shipped", "delivered"], "refund": ["delivered"],
              "cancel": ["processing", "shipped"], "damaged": ["delivered"],
              "shipping_time": ["processing"]}[intent]
    order["status"] = rng.choice(status)
    order["days"] = rng.randrange(1, 61) if order["status"] == "delivered" else rng.randrange(1, 6)
    if intent == "damaged":
        # Every damaged reply says the damage was reported within the policy's window, so the order was
        # delivered 1 to 14 days ago. (One draw of 28 values folded onto 14: the generator's random stream,
        # and so every other row of data/, stays as it was before this window was enforced.)
        order["days"] = 1 + rng.randrange(28) % POLICY["damage_report_days"]
    return order


def support_reply(intent: str, o: dict) -> tuple[str, list[str], list[str]]:
    """The policy-correct reply, the facts it must contain and phrases it must not contain.

    A reply names the item and applies the policy to the order's status. It does not repeat the order
    number or the day count: copying an arbitrary 5-digit id out of the prompt is a skill a 2.6M model
    only acquires after thousands of examples (see the contracts note above), and the lesson of the
    support notebooks is the policy, not copying."""
    p, item = POLICY, o["item"]
    if intent == "where_is_order":
        if o["status"] == "processing":
            return (f"Your {item} is still being prepared and has not shipped yet. "
                    f"Standard shipping takes {p['standard_days']} once it leaves our warehouse.",
                    [item, "not shipped", p["standard_days"]], ["has shipped", "was delivered"])
        if o["status"] == "shipped":
            return (f"Your {item} has shipped and is on its way. "
                    f"Standard shipping takes {p['standard_days']}, so it should arrive soon.",
                    [item, "has shipped"], ["not shipped", "was delivered"])
        return (f"Our courier says your {item} was delivered. "
                f"If you cannot find it, please check with your neighbours and let us know.",
                [item, "was delivered"], ["not shipped", "has shipped"])
    if intent == "refund":
        if o["days"] <= p["refund_days"]:
            return (f"Your {item} was delivered within our {p['refund_days']}-day refund window, so it is "
                    f"eligible for a refund. I have emailed you a return label.",
                    [item, "is eligible", f"{p['refund_days']}-day"], ["not eligible"])
        return (f"I'm sorry, your {item} was delivered more than {p['refund_days']} days ago, outside our "
                f"{p['refund_days']}-day refund window, so it is not eligible for a refund.",
                [item, "not eligible", f"{p['refund_days']}-day"], ["is eligible"])
    if intent == "cancel":
        if o["status"] == "processing":
            return (f"Your {item} has not shipped yet, so I have cancelled it. "
                    f"You will receive a full refund to your original payment method.",
                    [item, "cancelled it"], ["cannot be cancelled"])
        return (f"Your {item} has already shipped, so it cannot be cancelled. "
                f"Once it arrives you can return it within {p['refund_days']} days for a refund.",
                [item, "cannot be cancelled", f"{p['refund_days']} days"], ["cancelled it"])
    if intent == "damaged":
        return (f"I'm sorry your {item} arrived damaged. Because you reported it within "
                f"{p['damage_report_days']} days, we will send a free replacement. "
                f"There is no need to return the damaged item.", [item, "free replacement"], [])
    if intent == "shipping_time":
        return (f"Standard shipping takes {p['standard_days']} and express shipping takes {p['express_days']}. "
                f"Standard shipping is free on orders over {p['free_shipping_over']}.",
                [p["standard_days"], p["express_days"], p["free_shipping_over"]], [])
    raise ValueError(f"unknown support intent {intent!r}")


def support_prompt(o: dict, message: str) -> str:
    when = {"processing": "not shipped yet", "shipped": f"shipped {o['days']} days ago",
            "delivered": f"delivered {o['days']} days ago"}[o["status"]]
    return (f"Order {o['order_id']} | customer: {o['customer']} | item: {o['item']} | status: {when}\n"
            f"Customer: {message}")


def undesirable_reply(kind: str, wording: int, good: str, other: dict) -> str:
    """The policy reply `good` made undesirable with wording number `wording` of `kind`; a leak names the
    `other` customer's order."""
    if kind not in TAINT_WORDINGS:
        raise ValueError(f"unknown taint kind {kind!r}; choose one of {list(TAINT_WORDINGS)}")
    name = other["customer"]
    return TAINT_WORDINGS[kind][wording].format(good=good, name=name, first=name.split()[0], email=other["email"],
                                                order_id=other["order_id"], item=other["item"])


def _other_order(rng: random.Random, people: list[Person], order: dict) -> dict:
    """Another customer's order, as a leak quotes it."""
    return _order(rng, [q for q in people if q.name != order["customer"]], order["intent"])


TAINT_KINDS = ["rude", "leak", "overpromise"]
TAINT_SHARE = 0.06


def support_sets(people: list[Person], seed: int) -> tuple[list[dict], list[dict]]:
    """Customer-support turns (clean) and the same training turns with a share of undesirable replies."""
    rng = rng_for(seed, "support")
    wording_rng = rng_for(seed, "support-taint-wordings")
    sizes = {"train": 4000, "validation": 300, "test": 300}
    intents = list(SUPPORT_MESSAGES)
    clean, tainted = [], []
    for split, n in sizes.items():
        for i in range(n):
            intent = intents[i % len(intents)]
            o = _order(rng, people, intent)
            pool = SUPPORT_MESSAGES[intent] if split == "test" else SUPPORT_MESSAGES[intent][:SUPPORT_TRAIN_MESSAGES]
            message = rng.choice(pool).format(item=o["item"])
            reply, required, forbidden = support_reply(intent, o)
            row = {"id": f"support-{len(clean):05d}", "task": "support", "split": split,
                   "prompt": support_prompt(o, message), "response": reply, "intent": intent,
                   "order_id": o["order_id"], "customer": o["customer"], "required": required,
                   "forbidden": forbidden}
            clean.append(row)
            if split != "train":
                continue
            t = dict(row, id=f"support_tainted-{len(tainted):05d}", task="support_tainted", taint="", wording=None)
            if rng.random() < TAINT_SHARE:
                kind = TAINT_KINDS[len(tainted) % len(TAINT_KINDS)]
                other = _other_order(rng, people, dict(o, intent=intent))
                if kind in _LEGACY_WORDING_DRAWS:
                    rng.randrange(_LEGACY_WORDING_DRAWS[kind])
                wording = wording_rng.choice(TAINT_POOLS["train"])
                t.update(taint=kind, wording=wording, response=undesirable_reply(kind, wording, reply, other))
            tainted.append(t)
    return clean, tainted


TAINTED_VALIDATION_SHARE = 0.15


def tainted_validation(clean: list[dict], people: list[Person], seed: int) -> list[dict]:
    """The support validation split with 15% undesirable replies (an equal number of each kind), written
    from the validation pool's wordings only: the labelled sample on which a filter's cut-off is chosen,
    as a team would label a sample by hand. Its own random stream, so the other files stay as they were."""
    rng = rng_for(seed, "support-tainted-validation")
    rows = [r for r in clean if r["split"] == "validation"]
    per_kind = round(TAINTED_VALIDATION_SHARE * len(rows) / len(TAINT_KINDS))
    chosen = rng.sample(range(len(rows)), per_kind * len(TAINT_KINDS))
    kind_of = {i: TAINT_KINDS[j % len(TAINT_KINDS)] for j, i in enumerate(chosen)}
    out = []
    for i, row in enumerate(rows):
        t = dict(row, id=f"support_tainted-v{i:04d}", task="support_tainted", taint="", wording=None)
        if i in kind_of:
            kind, wording = kind_of[i], rng.choice(TAINT_POOLS["validation"])
            other = _other_order(rng, people, _order_of(row))
            t.update(taint=kind, wording=wording, response=undesirable_reply(kind, wording, row["response"], other))
        out.append(t)
    return out


SUPPORT_REFERENCE_SIZE = 400


def support_reference(people: list[Person], seed: int) -> list[dict]:
    """A trusted sample: 400 more support turns with policy replies only, as a team would check by hand.
    New orders (its own random stream) and the training messages; notebook 06 trains the reference model
    of its loss filter on them, a model that never saw an undesirable reply."""
    rng = rng_for(seed, "support-reference")
    intents = list(SUPPORT_MESSAGES)
    rows = []
    for i in range(SUPPORT_REFERENCE_SIZE):
        intent = intents[i % len(intents)]
        o = _order(rng, people, intent)
        reply, required, forbidden = support_reply(intent, o)
        rows.append({"id": f"support_tainted-r{i:04d}", "task": "support_tainted", "split": "reference",
                     "prompt": support_prompt(o, rng.choice(SUPPORT_MESSAGES[intent][:SUPPORT_TRAIN_MESSAGES]).format(
                         item=o["item"])), "response": reply, "intent": intent, "order_id": o["order_id"],
                     "customer": o["customer"], "required": required, "forbidden": forbidden, "taint": "",
                     "wording": None})
    return rows


def _order_of(row: dict) -> dict:
    """What a leak needs to know of a support row's own order: whose it is and its intent."""
    return {"customer": row["customer"], "intent": row["intent"]}


def support_taint_pool(tainted: list[dict], people: list[Person], seed: int) -> list[dict]:
    """One undesirable reply, written in advance from the train pool's wordings, for every clean row of
    the tainted training set, so notebook 06 can study any taint share up to 50% from shipped data. A
    row's kind cycles with its position, as the shipped taint's does."""
    rng = rng_for(seed, "support-taint-pool")
    pool = []
    for i, row in enumerate(tainted):
        if row["taint"]:
            continue
        kind = TAINT_KINDS[i % len(TAINT_KINDS)]
        other = _other_order(rng, people, _order_of(row))
        wording = rng.choice(TAINT_POOLS["train"])
        pool.append({"id": row["id"], "taint": kind, "wording": wording,
                     "response": undesirable_reply(kind, wording, row["response"], other)})
    return pool


# Multi-turn support chats. The order sits in the system message, as a support tool would put it there;
# the customer's follow-up says "it", so the right second reply depends on what came before: the item
# and status in the system message, and the first reply (told "not shipped yet", the customer asks to
# cancel; told it has shipped, they ask for the arrival; told it arrived, they ask for a refund).
SUPPORT_SYSTEM = "You are the support assistant of Pebble & Pine.\n{order}"
# first intent -> (order statuses it can start from, follow-up intent, follow-up wordings). The last wording
# of each appears only in test conversations, as with the single-turn messages.
FOLLOW_UPS = {
    "where_is_order": {"processing": ("cancel", ["Then please cancel it.", "In that case, can I still cancel it?",
                                                 "OK, cancel the order then.", "Could you cancel it instead?"]),
                       "shipped": ("cancel", ["Can I still cancel it?", "I don't want it anymore. Can you cancel it?",
                                              "Is it too late to cancel?", "Please cancel it then."]),
                       "delivered": ("refund", ["Oh, I found it. Can I return it for a refund?",
                                                "Found it, but I don't like it. Can I get my money back?",
                                                "Can I still send it back?", "Then I'd like to return it."])},
    "cancel": {"shipped": ("where_is_order", ["OK. When will it arrive then?", "Fine. Where is it now?",
                                              "So when does it get here?", "Alright, how long until it arrives?"]),
               "processing": ("shipping_time", ["Thanks. How long would shipping have taken?",
                                                "Good. For next time, how fast is express?",
                                                "What are your delivery times, for my next order?",
                                                "How long does shipping take usually?"])},
    "damaged": {"delivered": ("refund", ["Could I get my money back instead?", "Can I have a refund rather than a new one?",
                                         "I'd prefer a refund. Is that possible?", "Can you refund it instead?"])},
    "shipping_time": {"processing": ("where_is_order", ["So when will my order arrive?", "Has my order shipped yet?",
                                                        "Where is my order now?", "When will mine get here?"])},
}
CLOSINGS = ["Thanks, that's all.", "Great, thank you!", "OK, thanks for your help."]
CLOSING_REPLY = "You're welcome! Thank you for shopping at Pebble & Pine."
SUPPORT_CHAT_SIZES = {"train": 1200, "validation": 100, "test": 120}


def support_order_line(o: dict) -> str:
    """The order as the first line of `support_prompt` writes it."""
    return support_prompt(o, "").split("\n")[0]


def support_conversations(people: list[Person], seed: int) -> list[dict]:
    """Support chats of two or three assistant turns, stored as `messages` (the Hugging Face chat format).

    Each row also keeps what its second reply (the answer to the follow-up, `messages[scored_message]`)
    must and must not say, so a model can be scored on the follow-up, which it can only answer from the
    earlier turns."""
    rng = rng_for(seed, "support_chat")
    rows = []
    for split, n in SUPPORT_CHAT_SIZES.items():
        for i in range(n):
            first = list(FOLLOW_UPS)[i % len(FOLLOW_UPS)]
            o = _order(rng, people, first)
            while o["status"] not in FOLLOW_UPS[first]:      # e.g. a cancel request for a delivered order
                o = _order(rng, people, first)
            second, wordings = FOLLOW_UPS[first][o["status"]]
            pool = SUPPORT_MESSAGES[first] if split == "test" else SUPPORT_MESSAGES[first][:SUPPORT_TRAIN_MESSAGES]
            follow_pool = wordings if split == "test" else wordings[:-1]
            reply1, _, _ = support_reply(first, o)
            reply2, required, forbidden = support_reply(second, o)
            messages = [{"role": "system", "content": SUPPORT_SYSTEM.format(order=support_order_line(o))},
                        {"role": "user", "content": rng.choice(pool).format(item=o["item"])},
                        {"role": "assistant", "content": reply1},
                        {"role": "user", "content": rng.choice(follow_pool)},
                        {"role": "assistant", "content": reply2}]
            if rng.random() < 0.5:
                messages += [{"role": "user", "content": rng.choice(CLOSINGS)},
                             {"role": "assistant", "content": CLOSING_REPLY}]
            rows.append({"id": f"support_chat-{len(rows):05d}", "task": "support_chat", "split": split,
                         "messages": messages, "intent": first, "follow_up": second,
                         "order_id": o["order_id"], "customer": o["customer"], "scored_message": 4,
                         "required": required, "forbidden": forbidden})
    return rows

