"""The world's contracts: a firm's services agreements, and the one-paragraph summaries SFT teaches.

A contract is a handful of numbered clauses. Key clauses carry the three facts a summary must state (term,
liability cap, governing law); distractor clauses carry look-alike numbers (days, years, dollar amounts,
places) that a summary must ignore.
"""
from __future__ import annotations

import random

from .world_people import CITIES, COUNTRIES, rng_for

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]

# Pre-training contracts draw from wide value ranges. The SFT contracts are a firm's book: the handful of
# terms, jurisdictions and caps its agreements actually use. Measured on gpt2-tiny: with the book's
# values, 700 mixed SFT steps (about a CPU minute) summarise new contracts ~100% right; with wide ranges
# (79 terms, 84 jurisdictions, ~500 caps) the model first has to learn to *copy* an arbitrary value out
# of the context, which took 500 to 900+ contract-only steps and sometimes did not happen at all in
# that budget. `test_novel` keeps the wide, never-seen values and wordings: the limit notebook 03 shows.
TERM_HELDOUT = [7, 13, 19, 29, 31, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97]   # months, test only
TERM_TRAIN = [m for m in range(3, 100) if m not in TERM_HELDOUT]
REGION_HEADS = ["Ash", "Bel", "Cal", "Dun", "Elm", "Fal", "Glen", "Hart", "Ivel", "Kess", "Lyn", "Mor"]
REGION_TAILS = ["ale", "mark", "ford", "mere", "wyn", "holt", "dell", "burg"]
REGIONS = [h + t for h in REGION_HEADS for t in REGION_TAILS]
JURISDICTIONS = COUNTRIES + [f"the State of {r}" for r in REGIONS]
JURISDICTIONS_HELDOUT = JURISDICTIONS[4::6]                       # 16 states, only in held-out contracts
JURISDICTIONS_TRAIN = [j for j in JURISDICTIONS if j not in JURISDICTIONS_HELDOUT]
BOOK_TERMS = [6, 12, 18, 24, 30, 36, 48, 60, 72, 84]                 # months
BOOK_JURISDICTIONS = COUNTRIES + [JURISDICTIONS_TRAIN[i] for i in range(4, 84, 10)]   # 4 countries, 8 states
BOOK_CAPS = [f"${a:,}" for a in range(250_000, 12_250_000, 250_000)]    # 48 amounts, multiples of 250,000
_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
         "sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_word(n: int) -> str:
    """English words for 0..99, as contracts write them: 'twenty-four'."""
    if not 0 <= n < 100:
        raise ValueError(f"number_word covers 0..99, got {n}")
    if n < 20:
        return _UNITS[n]
    return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _UNITS[n % 10])


# Clause wordings after the first TRAIN_WORDINGS of each list appear only in held-out contracts.
TRAIN_WORDINGS = 3
TERM_CLAUSES = [
    "This Agreement commences on the Effective Date and continues for a term of {w} ({m}) months.",
    "The initial term of this Agreement is {m} months from the Effective Date.",
    "Unless terminated earlier, this Agreement remains in force for {m} ({w}) months.",
    "The parties agree that the duration of this Agreement shall be {w} ({m}) months.",
    "This Agreement shall expire {m} months after the Effective Date.",
]
CAP_CLAUSES = [
    "The total liability of either party under this Agreement shall not exceed {c}.",
    "Each party's aggregate liability arising out of this Agreement is limited to {c}.",
    "In no event shall either party be liable for damages in excess of {c} in the aggregate.",
    "The maximum amount recoverable by either party under this Agreement is capped at {c}.",
    "Liability of the parties, whether in contract or otherwise, is limited to a total of {c}.",
]
LAW_CLAUSES = [
    "This Agreement is governed by the laws of {j}.",
    "This Agreement shall be construed in accordance with the laws of {j}.",
    "The laws of {j} govern this Agreement and any dispute arising from it.",
    "All questions concerning this Agreement shall be decided under the laws of {j}.",
    "This Agreement and its interpretation are subject to the laws of {j}.",
]
# Real contracts head their clauses; the headings are the same in held-out contracts, the wording after
# them is not.
HEADINGS = {"term": "Term", "cap": "Limitation of Liability", "law": "Governing Law"}
DISTRACTOR_CLAUSES = [
    "Payment. Invoices are payable within {d} days of receipt.",
    "Termination. Either party may terminate this Agreement by giving {d} days' written notice.",
    "Confidentiality. The obligations of confidentiality survive for {y} years after termination.",
    "Insurance. The Supplier shall maintain insurance coverage of at least {c}.",
    "Disputes. Any dispute shall first be referred to mediation in {city}.",
    "Notices. Notices shall be sent to the registered office of the receiving party.",
    "Assignment. Neither party may assign this Agreement without the prior written consent of the other party.",
    "Late Payment. Late payments bear interest at {p} percent per year.",
    "Reporting. The Supplier shall deliver monthly reports within {d} days of the end of each month.",
    "Force Majeure. Force majeure events suspend the affected obligations for up to {d} days.",
]
COMPANY_HEADS = ["Arden", "Bellweather", "Cinder", "Dunmore", "Elmstead", "Foxglove", "Granite", "Heron",
                 "Ivory", "Juniper", "Kingfisher", "Larkspur", "Moorland", "Nettle", "Oriel", "Pinecrest",
                 "Quayside", "Rookwood", "Sorrel", "Thistle", "Umber", "Vale", "Westbrook", "Yew"]
COMPANY_TAILS = ["Logistics Ltd", "Software Inc", "Holdings", "Consulting Group", "Manufacturing Co",
                 "Health Partners", "Media Ltd", "Engineering Inc", "Trading Co", "Analytics Ltd"]
SUMMARY_TEMPLATE = ("This agreement between {a} and {b} has a term of {m} months, caps liability at {c}, "
                    "and is governed by the laws of {j}.")


def company(rng: random.Random) -> str:
    return f"{rng.choice(COMPANY_HEADS)} {rng.choice(COMPANY_TAILS)}"


def money(rng: random.Random, heldout: bool) -> str:
    # Training amounts are multiples of 10,000; held-out ones end in 5,000, so no held-out cap string
    # ever appears in training.
    amount = rng.randrange(5, 500) * 10_000
    return f"${amount + 5_000 if heldout else amount:,}"


def contract(rng: random.Random, heldout: bool, book: bool = False) -> tuple[str, dict]:
    """One contract and its key facts. `heldout`: unseen term lengths, cap amounts, jurisdictions and
    clause wordings. `book`: values from the firm's book (BOOK_*), training wordings."""
    a, b = company(rng), company(rng)
    while b == a:
        b = company(rng)
    if book:
        months, cap, law = rng.choice(BOOK_TERMS), rng.choice(BOOK_CAPS), rng.choice(BOOK_JURISDICTIONS)
    else:
        months = rng.choice(TERM_HELDOUT if heldout else TERM_TRAIN)
        cap = money(rng, heldout)
        law = rng.choice(JURISDICTIONS_HELDOUT if heldout else JURISDICTIONS_TRAIN)
    pick = (lambda xs: rng.choice(xs[TRAIN_WORDINGS:])) if heldout else (lambda xs: rng.choice(xs[:TRAIN_WORDINGS]))
    key = [f"{HEADINGS['term']}. " + pick(TERM_CLAUSES).format(m=months, w=number_word(months)),
           f"{HEADINGS['cap']}. " + pick(CAP_CLAUSES).format(c=cap),
           f"{HEADINGS['law']}. " + pick(LAW_CLAUSES).format(j=law)]
    distractors = [d.format(d=rng.choice([10, 14, 15, 30, 45, 60, 90]), y=rng.choice([2, 3, 5, 7]),
                            c=money(rng, rng.random() < 0.5), city=rng.choice(list(CITIES)),
                            p=rng.choice([2, 4, 6, 8]))
                   for d in rng.sample(DISTRACTOR_CLAUSES, 3)]
    clauses = key + distractors
    rng.shuffle(clauses)
    day = f"{rng.randrange(1, 29)} {rng.choice(MONTHS)} {rng.randrange(2019, 2026)}"
    lines = ["SERVICES AGREEMENT",
             f"This Agreement is made on {day} between {a} (the \"Customer\") and {b} (the \"Supplier\")."]
    lines += [f"{i}. {c}" for i, c in enumerate(clauses, 1)]
    lines.append(f"Signed for {a} and for {b}.")
    facts = {"party_a": a, "party_b": b, "term_months": months, "liability_cap": cap, "governing_law": law}
    return "\n".join(lines), facts


def contract_summary(facts: dict) -> str:
    return SUMMARY_TEMPLATE.format(a=facts["party_a"], b=facts["party_b"], m=facts["term_months"],
                                   c=facts["liability_cap"], j=facts["governing_law"])


def contract_set(seed: int) -> list[dict]:
    """The firm's contracts: train/validation/test are different documents with the book's values;
    test_novel has values and clause wordings that no SFT contract uses."""
    rng = rng_for(seed, "contracts")
    sizes = {"train": 4000, "validation": 200, "test": 300, "test_novel": 300}
    rows = []
    for split, n in sizes.items():
        for _ in range(n):
            text, facts = contract(rng, heldout=(split == "test_novel"), book=(split != "test_novel"))
            rows.append({"id": f"contracts-{len(rows):05d}", "task": "contracts", "split": split,
                         "prompt": f"Summarize the term, liability cap and governing law of this contract.\n\n{text}",
                         "response": contract_summary(facts), **facts})
    return rows

