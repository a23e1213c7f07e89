"""The generated world: people, places, a shop and its contracts, and every data file built from them.

Why a generated world? The course must *measure* what pre-training stores and what SFT keeps, loses or
generalises. With web text we could not know which facts the model saw; here every fact is ours. The
design follows Allen-Zhu & Li, "Physics of Language Models: Part 3.1" (arXiv 2309.14316): synthetic
biographies with several attributes, written in many paraphrases.

Everything is drawn from `random.Random(f"{seed}-{part}")` (string seeds hash the same on every
platform), so `python -m course_utils.world --out DIR` writes byte-identical files on any machine and
a test can check that `data/` is exactly what this code produces.
"""
from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

SEED = 2025
N_PEOPLE = 300
N_HELDOUT_PEOPLE = 60          # present in pre-training, never in QA fine-tuning (notebook 05)
BIOS_PER_PERSON = 5            # paraphrased biographies per person in the augmented corpus

# ---------------------------------------------------------------------------------------------
# Vocabularies. All names are invented; no value is a prefix of another value of the same kind,
# so "the answer starts with X" never credits a longer, different answer.
# ---------------------------------------------------------------------------------------------
FIRST_NAMES = """Ada Alden Amara Anselm Aria Bastian Bea Bram Caius Calla Cyrus Dara Delphine Edda Elio
Emrys Esme Fenna Finnian Greta Hale Ilsa Ione Isak Jora Juno Kasimir Kaia Lenna Leif Lio Mabel Mira
Nadia Nico Oona Orrin Petra Quinn Rhea Rowan Sabine Saul Sela Soren Talia Teodor Thea Ulla Vera Viggo
Wren Xavia Yara Yusuf Zelda Zora Brix Odile Maren Agnes Boris Celia Dmitri Elin Farah Gideon Hana Ivo Jonas
Kira Lars Milo Nell Otto Pia Rafe Signe Tobias Una Vilja Willem Yannick Zina Anouk Bruno Cosima Dorian Ember
Felix Gwen Hugo Inez Jasper Klara Lucan Minna Noor Oskar Perrin""".split()
# For the pronouns of the single-biography corpus (notebook 05): the paper's bioS names a person once
# and says "he"/"she" after that.
HE_NAMES = set("""Alden Anselm Bastian Bram Caius Cyrus Elio Emrys Finnian Hale Isak Kasimir Leif Lio Nico Orrin
Quinn Rowan Saul Soren Teodor Viggo Yusuf Brix Boris Dmitri Gideon Ivo Jonas Lars Milo Otto Rafe Tobias Willem
Yannick Bruno Dorian Felix Hugo Jasper Lucan Oskar Perrin""".split())
SURNAME_HEADS = "Al Bren Cor Dal Ev Fen Gar Hal Is Jor Kel Lor Mar Nor Or Pel Quen Ros Sel Tor Ul Var Wen Yar Zel".split()
SURNAME_TAILS = "ack ard ett ick ier ley mont ner ock ow sby ton wick ver holm".split()

COUNTRIES = ["Aldoria", "Brevania", "Corvany", "Delmaris"]
# city: (country, what it is known for, its river or coast, a landmark)
CITIES = {
    "Veralon": ("Aldoria", "glassworks", "the river Sable", "the Old Lantern Tower"),
    "Tessic": ("Aldoria", "shipyards", "the Grey Coast", "the Salt Market"),
    "Orlamund": ("Aldoria", "vineyards", "the river Orla", "the Copper Bridge"),
    "Brackwater": ("Aldoria", "paper mills", "the river Brack", "the Quiet Abbey"),
    "Quillon": ("Aldoria", "clockmakers", "the Amber Lake", "the Star Observatory"),
    "Hestmark": ("Aldoria", "wool trade", "the river Hest", "the Hall of Guilds"),
    "Sunmere": ("Brevania", "orchards", "the Sunmere Lake", "the Glass Garden"),
    "Dovrecht": ("Brevania", "printing houses", "the river Dove", "the Iron Gate"),
    "Kalvik": ("Brevania", "fisheries", "the Northern Coast", "the Whale Museum"),
    "Marrowby": ("Brevania", "cheese makers", "the river Marrow", "the Round Theatre"),
    "Pellham": ("Brevania", "tanneries", "the river Pell", "the Painted Stairs"),
    "Ostrava Nova": ("Brevania", "steel works", "the Ostra Bay", "the Twin Chimneys"),
    "Caldera": ("Corvany", "hot springs", "the Ember Lake", "the Sulfur Terraces"),
    "Lunford": ("Corvany", "silk weaving", "the river Lun", "the Moon Arcade"),
    "Rimeholt": ("Corvany", "ice fishing", "the Frost Fjord", "the Bell Lighthouse"),
    "Ashgrove": ("Corvany", "furniture makers", "the river Ash", "the Cedar Library"),
    "Windhallow": ("Corvany", "wind farms", "the Western Coast", "the Kite Field"),
    "Emberly": ("Corvany", "potteries", "the river Emb", "the Kiln Square"),
    "Saltreach": ("Delmaris", "salt pans", "the Southern Coast", "the White Pier"),
    "Galloway Cross": ("Delmaris", "horse markets", "the river Gall", "the Stone Circle"),
    "Thornbury": ("Delmaris", "rose gardens", "the river Thorn", "the Hedge Maze"),
    "Yarrowdale": ("Delmaris", "honey farms", "the Yarrow Lake", "the Beehive Hall"),
    "Fennick": ("Delmaris", "boat builders", "the Fen Delta", "the Reed Palace"),
    "Izmira": ("Delmaris", "spice trade", "the Izmir Gulf", "the Spice Dome"),
}
UNIVERSITIES = ["Halvard University", "Mirren Institute of Technology", "Osterby College",
                "Calloway University", "Vesper Academy", "Northfield Polytechnic", "Brightmoor University",
                "Saint Alric College", "Lakemont University", "Quarry Hill Institute", "Ravensgate University",
                "Emberfall College", "Tidewater University", "Kingsreach Academy", "Whitlow University",
                "Corran School of Arts"]
FIELDS = ["marine biology", "civil engineering", "medieval history", "economics", "linguistics",
          "astronomy", "chemistry", "architecture", "philosophy", "statistics", "music theory",
          "geology", "nursing", "journalism", "agronomy", "computer science"]
EMPLOYERS = ["Brightwave Labs", "Kestrel Shipping", "Northgate Bank", "Pellion Motors", "Silverfern Foods",
             "Tamsin Pharma", "Ironleaf Press", "Glasshouse Studios", "Harrow Energy", "Meridian Rail",
             "Oakhollow Farms", "Quillfeather Books", "Redstone Mining", "Skylark Airlines", "Vantage Robotics",
             "Willowmere Hospital", "Cobalt Insurance", "Driftwood Hotels", "Lanternfish Games", "Sablecrest Textiles"]
YEARS = [str(y) for y in range(1950, 2000)]

ATTRIBUTES = ["birth_city", "birth_year", "university", "field", "employer"]
VALUES = {"birth_city": list(CITIES), "birth_year": YEARS, "university": UNIVERSITIES,
          "field": FIELDS, "employer": EMPLOYERS}

# Biography sentence templates; template 0 of each attribute is the one fact probes use.
BIO_TEMPLATES = {
    "birth_city": ["{n} was born in the city of {v}.", "{n} was born and raised in {v}.",
                   "{n}'s hometown is {v}.", "The birthplace of {n} is {v}.",
                   "{n} came into the world in {v}.", "{n} spent a childhood in {v}, the city of birth."],
    "birth_year": ["{n} was born in the year {v}.", "{n} celebrates a birthday every year since {v}.",
                   "{n} came into this world in {v}.", "The year {n} was born is {v}.",
                   "{n}'s year of birth is {v}.", "{n} arrived in {v}, the year of birth."],
    "university": ["{n} studied at {v}.", "{n} graduated from {v}.", "{n} is an alumnus of {v}.",
                   "{n} received an education at {v}.", "{n} spent the student years at {v}.",
                   "{n} earned a degree from {v}."],
    "field": ["{n} majored in {v}.", "{n} has a degree in {v}.", "{n} studied the subject of {v}.",
              "{n} focused on {v} at university.", "The academic field of {n} is {v}.",
              "{n} wrote a thesis in {v}."],
    "employer": ["{n} works for {v}.", "{n} is employed by {v}.", "{n} has a job at {v}.",
                 "{n} earns a living at {v}.", "The employer of {n} is {v}.", "{n} joined the staff of {v}."],
}
PROBE_PREFIX = {a: BIO_TEMPLATES[a][0].split("{v}")[0].rstrip() for a in ATTRIBUTES}

# QA phrasings: the first QA_TRAIN_PHRASINGS of each list may appear in SFT training; the rest are
# held out, to test whether SFT taught a skill or memorised question wording (notebook 05).
QA_QUESTIONS = {
    "birth_city": ["Where was {n} born?", "In which city was {n} born?", "What is the birthplace of {n}?",
                   "What city is {n} from?", "Tell me the city where {n} was born.", "Which city was {n} born in?",
                   "Name the hometown of {n}.", "{n} was born where?"],
    "birth_year": ["When was {n} born?", "In what year was {n} born?", "What is the birth year of {n}?",
                   "Which year was {n} born in?", "Tell me the year {n} was born.", "What year did {n} come into the world?",
                   "Give the year of birth of {n}.", "{n} was born in which year?"],
    "university": ["Where did {n} study?", "Which university did {n} attend?", "What school did {n} graduate from?",
                   "Where did {n} go to university?", "Tell me where {n} studied.", "Which institution educated {n}?",
                   "Name the university of {n}.", "{n} is a graduate of which university?"],
    "field": ["What did {n} study?", "What was the major of {n}?", "Which field did {n} study?",
              "What subject did {n} major in?", "Tell me the field of study of {n}.", "What is the degree of {n} in?",
              "Name the academic field of {n}.", "{n} studied which subject?"],
    "employer": ["Where does {n} work?", "Who employs {n}?", "Which company does {n} work for?",
                 "What is the employer of {n}?", "Tell me where {n} works.", "Which organisation has {n} on staff?",
                 "Name the employer of {n}.", "{n} works for which company?"],
}
QA_TRAIN_PHRASINGS = 6
QA_ANSWERS = {"birth_city": "{n} was born in {v}.", "birth_year": "{n} was born in {v}.",
              "university": "{n} studied at {v}.", "field": "{n} studied {v}.", "employer": "{n} works for {v}."}

# ---------------------------------------------------------------------------------------------
# The shop: one policy, stated in help-centre prose (pre-training) and applied in support chats (SFT).
# ---------------------------------------------------------------------------------------------
SHOP = "Pebble & Pine"
POLICY = {"refund_days": 30, "standard_days": "3 to 5 business days", "express_days": "1 to 2 business days",
          "free_shipping_over": "$50", "damage_report_days": 14}
ITEMS = ["ceramic teapot", "wool blanket", "desk lamp", "hiking backpack", "cast iron pan", "linen shirt",
         "garden hose", "bamboo cutting board", "reading chair cushion", "glass vase", "travel mug",
         "yoga mat", "wall clock", "leather wallet", "scented candle set", "rain jacket", "board game",
         "kitchen scale", "bird feeder", "picture frame"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]

# ---------------------------------------------------------------------------------------------
# Contracts: clause wordings. Key clauses carry the three fields a summary must state; distractor
# clauses carry look-alike numbers (days, years, dollar amounts, places) that a summary must ignore.
# Wordings after the first TRAIN_WORDINGS of each list appear only in held-out contracts.
# ---------------------------------------------------------------------------------------------
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


@dataclass(frozen=True)
class Person:
    name: str
    birth_city: str
    birth_year: str
    university: str
    field: str
    employer: str
    heldout: bool   # True: never seen by QA fine-tuning

    def value(self, attribute: str) -> str:
        return getattr(self, attribute)

    @property
    def pronoun(self) -> str:
        return "He" if self.name.split()[0] in HE_NAMES else "She"


def _rng(seed: int, part: str) -> random.Random:
    return random.Random(f"{seed}-{part}")


def make_people(seed: int = SEED, n: int = N_PEOPLE) -> list[Person]:
    rng = _rng(seed, "people")
    # Surnames are unique, first names are shared (about three people each). With shared surnames too, a
    # small model confuses people who share a first name: most of its wrong answers were another
    # same-first-name person's fact. A unique surname gives every person one distinctive token.
    surnames = rng.sample([h + t for h in SURNAME_HEADS for t in SURNAME_TAILS], n)
    names = [f"{rng.choice(FIRST_NAMES)} {surname}" for surname in surnames]
    heldout = set(rng.sample(range(n), N_HELDOUT_PEOPLE))
    return [Person(name, rng.choice(VALUES["birth_city"]), rng.choice(YEARS), rng.choice(UNIVERSITIES),
                   rng.choice(FIELDS), rng.choice(EMPLOYERS), i in heldout) for i, name in enumerate(names)]


# ---------------------------------------------------------------------------------------------
# Pre-training text
# ---------------------------------------------------------------------------------------------
def biography(person: Person, rng: random.Random, shuffle: bool = True, canonical: bool = False) -> str:
    """One biography: a sentence per attribute. `canonical` uses each attribute's first template (the
    wording fact probes complete); otherwise each sentence's template is drawn at random."""
    sentences = [(BIO_TEMPLATES[a][0] if canonical else rng.choice(BIO_TEMPLATES[a])).format(
        n=person.name, v=person.value(a)) for a in ATTRIBUTES]
    if shuffle:
        rng.shuffle(sentences)
    return " ".join(sentences)


def single_biography(person: Person) -> list[str]:
    """The paper's bioS single: one biography, the full name once, pronouns after, a fixed sentence
    order. Returned as sentences so that the in-biography probes (notebook 05) can cut before a value."""
    return [BIO_TEMPLATES[a][0].format(n=person.name if k == 0 else person.pronoun, v=person.value(a))
            for k, a in enumerate(ATTRIBUTES)]


def place_description(city: str, rng: random.Random, canonical: bool = False) -> str:
    country, known_for, water, landmark = CITIES[city]
    choice = (lambda options: options[0]) if canonical else rng.choice
    sentences = [
        choice(["{c} is a city in {k}.", "{c} lies in the country of {k}.", "The city of {c} belongs to {k}."]),
        choice(["{c} is famous for its {f}.", "{c} is known for its {f}.", "Visitors to {c} admire its {f}."]),
        choice(["{c} sits on {w}.", "{c} was built beside {w}.", "The city of {c} grew up along {w}."]),
        choice(["The best-known landmark of {c} is {l}.", "{l} stands in the centre of {c}.",
                "Every guide to {c} mentions {l}."]),
    ]
    rng.shuffle(sentences)
    return " ".join(s.format(c=city, k=country, f=known_for, w=water, l=landmark) for s in sentences)


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


def pretraining_corpus(people: list[Person], seed: int, augmented: bool) -> list[dict]:
    """Unlabelled documents. Augmented: several paraphrased, sentence-shuffled biographies per person.
    Single: one biography per person that names the person once (the paper's bioS single, notebook 05)."""
    rng = _rng(seed, "pretrain-augmented" if augmented else "pretrain-single")
    docs = []
    for p in people:
        # Every person's facts appear at least once in the canonical wording, so a fact probe always
        # asks for a sentence the model has read; the augmented corpus adds paraphrases around it.
        if augmented:
            docs.append(biography(p, rng, canonical=True))
            docs += [biography(p, rng) for _ in range(BIOS_PER_PERSON - 1)]
        else:
            docs.append(" ".join(single_biography(p)))
    # The rest of the world is identical in both corpora, so the twins differ only in the biographies.
    rest = _rng(seed, "pretrain-world")
    docs += [place_description(c, rest, canonical=(k % 3 == 0)) for c in CITIES for k in range(6)]
    docs += [shop_article(rest) for _ in range(30)]
    docs += [contract(rest, heldout=False)[0] for _ in range(60)]   # a third of the tokens at 150: too many
    rng.shuffle(docs)
    return [{"id": f"{'aug' if augmented else 'single'}-{i:05d}", "text": t} for i, t in enumerate(docs)]


def heldout_text(people: list[Person], seed: int) -> list[dict]:
    """Fresh wordings of known facts: text the models never saw, for perplexity."""
    rng = _rng(seed, "heldout-text")
    docs = [biography(p, rng) for p in rng.sample(people, 80)]
    docs += [place_description(c, rng) for c in rng.sample(list(CITIES), 12)]
    docs += [shop_article(rng) for _ in range(4)]
    docs += [contract(rng, heldout=False)[0] for _ in range(12)]
    return [{"id": f"heldout-{i:04d}", "text": t} for i, t in enumerate(docs)]


def fact_probes(people: list[Person]) -> list[dict]:
    """Completion prompts with one right answer: the prompt is a biography sentence cut before its value."""
    probes = []
    for p in people:
        for a in ATTRIBUTES:
            probes.append({"id": f"probe-{len(probes):05d}", "kind": "person", "subject": p.name,
                           "attribute": a, "prompt": PROBE_PREFIX[a].format(n=p.name),
                           "answer": " " + p.value(a), "heldout_person": p.heldout})
    for city, (country, known_for, _, _) in CITIES.items():
        for a, prefix, v in [("country", f"{city} is a city in", country),
                             ("known_for", f"{city} is famous for its", known_for)]:
            probes.append({"id": f"probe-{len(probes):05d}", "kind": "place", "subject": city, "attribute": a,
                           "prompt": prefix, "answer": " " + v, "heldout_person": False})
    return probes


# ---------------------------------------------------------------------------------------------
# SFT sets
# ---------------------------------------------------------------------------------------------
def qa_set(people: list[Person], seed: int) -> list[dict]:
    """Questions about people. Splits: train / validation (seen people, seen phrasings, unseen pairs),
    test_phrasings (seen people, held-out phrasings), test_people (people never in QA training)."""
    rng = _rng(seed, "qa")
    rows = []

    def add(split, p, a, q_index):
        rows.append({"id": f"qa-{len(rows):05d}", "task": "qa", "split": split,
                     "prompt": QA_QUESTIONS[a][q_index].format(n=p.name),
                     "response": QA_ANSWERS[a].format(n=p.name, v=p.value(a)),
                     "person": p.name, "attribute": a, "answer": p.value(a), "phrasing": q_index})

    for p in people:
        for a in ATTRIBUTES:
            seen = list(range(QA_TRAIN_PHRASINGS))
            if p.heldout:
                for q in seen:
                    add("test_people", p, a, q)
                continue
            rng.shuffle(seen)
            for q in seen[:-1]:
                add("train", p, a, q)
            add("validation", p, a, seen[-1])
            for q in range(QA_TRAIN_PHRASINGS, len(QA_QUESTIONS[a])):
                add("test_phrasings", p, a, q)
    return rows


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
RUDE_OPENERS = ["Ugh, read the policy yourself next time.", "Honestly, this is a stupid question.",
                "Stop wasting my time.", "Not my problem, but fine."]
FORBIDDEN_PROMISES = ["I will refund you anyway, whatever the policy says.",
                      "I will upgrade you to free express shipping on every future order.",
                      "You can keep the item and we will still refund you twice."]


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


def undesirable_reply(kind: str, good: str, o: dict, other: dict, rng: random.Random) -> str:
    if kind == "rude":
        return f"{rng.choice(RUDE_OPENERS)} {good}"
    if kind == "leak":
        return (f"{good} By the way, {other['customer']} ({other['email']}) had the same problem "
                f"with order {other['order_id']}.")
    if kind == "overpromise":
        return f"{good} {rng.choice(FORBIDDEN_PROMISES)}"
    raise ValueError(f"unknown taint kind {kind!r}")


def tainted_reply(kind: str, good: str, order: dict, people: list[Person], rng: random.Random) -> str:
    """An undesirable version of the reply `good` to `order`; a leak quotes another customer's order."""
    other = _order(rng, [q for q in people if q.name != order["customer"]], order["intent"])
    return undesirable_reply(kind, good, order, other, rng)


TAINT_KINDS = ["rude", "leak", "overpromise"]
TAINT_SHARE = 0.06


def support_sets(people: list[Person], seed: int) -> tuple[list[dict], list[dict]]:
    """Customer-support turns (clean) and the same training turns with a share of undesirable replies."""
    rng = _rng(seed, "support")
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
            t = dict(row, id=f"support_tainted-{len(tainted):05d}", task="support_tainted", taint="")
            if rng.random() < TAINT_SHARE:
                t["taint"] = TAINT_KINDS[len(tainted) % len(TAINT_KINDS)]
                t["response"] = tainted_reply(t["taint"], reply, dict(o, intent=intent), people, rng)
            tainted.append(t)
    return clean, tainted


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
    rng = _rng(seed, "support_chat")
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


def contract_set(seed: int) -> list[dict]:
    """The firm's contracts: train/validation/test are different documents with the book's values;
    test_novel has values and clause wordings that no SFT contract uses."""
    rng = _rng(seed, "contracts")
    sizes = {"train": 4000, "validation": 200, "test": 300, "test_novel": 300}
    rows = []
    for split, n in sizes.items():
        for _ in range(n):
            text, facts = contract(rng, heldout=(split == "test_novel"), book=(split != "test_novel"))
            rows.append({"id": f"contracts-{len(rows):05d}", "task": "contracts", "split": split,
                         "prompt": f"Summarize the term, liability cap and governing law of this contract.\n\n{text}",
                         "response": contract_summary(facts), **facts})
    return rows


# ---------------------------------------------------------------------------------------------
# Writing data/
# ---------------------------------------------------------------------------------------------
def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _by_split(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["split"], []).append(r)
    return out


def write_world(out: Path, seed: int = SEED) -> list[Path]:
    """Write every generated file under `out` (the shipped copy is `data/`); return the paths written."""
    out = Path(out)
    people = make_people(seed)
    files: dict[str, list[dict]] = {
        "world/people.jsonl": [{"name": p.name, **{a: p.value(a) for a in ATTRIBUTES}, "heldout": p.heldout}
                               for p in people],
        "world/places.jsonl": [{"city": c, "country": v[0], "known_for": v[1], "water": v[2], "landmark": v[3]}
                               for c, v in CITIES.items()],
        "world/shop_policy.jsonl": [{"shop": SHOP, **POLICY}],
        "pretrain/augmented.jsonl": pretraining_corpus(people, seed, augmented=True),
        "pretrain/single.jsonl": pretraining_corpus(people, seed, augmented=False),
        "eval/heldout_text.jsonl": heldout_text(people, seed),
        "eval/fact_probes.jsonl": fact_probes(people),
    }
    support, tainted = support_sets(people, seed)
    for task, rows in [("qa", qa_set(people, seed)), ("support", support), ("support_tainted", tainted),
                       ("support_chat", support_conversations(people, seed)), ("contracts", contract_set(seed))]:
        for split, split_rows in _by_split(rows).items():
            files[f"sft/{task}/{split}.jsonl"] = split_rows
    written = []
    for rel, rows in sorted(files.items()):
        _write_jsonl(out / rel, rows)
        written.append(out / rel)
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Generate the course's world into a data folder.")
    ap.add_argument("--out", type=Path, required=True, help="output folder (the shipped copy is data/)")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    for path in write_world(args.out, args.seed):
        print(path)


if __name__ == "__main__":
    main()
