"""The world's people and places: who they are, their biographies, fact probes and questions about them.

Why a generated world? The course must *measure* what pre-training stores and what SFT keeps, loses or
generalises. With web text we could not know which facts the model saw; here every fact is ours. The
design follows Allen-Zhu & Li, "Physics of Language Models: Part 3.1" (arXiv 2309.14316): synthetic
biographies with several attributes, written in many paraphrases.

Everything is drawn from `rng_for(seed, part)`, a `random.Random` with a string seed (string seeds hash
the same on every platform), so the generator writes byte-identical files on any machine.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

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


def rng_for(seed: int, part: str) -> random.Random:
    """The random stream of one part of the world: each part draws from its own, so adding a part never
    changes the others."""
    return random.Random(f"{seed}-{part}")


def make_people(seed: int = SEED, n: int = N_PEOPLE) -> list[Person]:
    rng = rng_for(seed, "people")
    # Surnames are unique, first names are shared (about three people each). With shared surnames too, a
    # small model confuses people who share a first name: most of its wrong answers were another
    # same-first-name person's fact. A unique surname gives every person one distinctive token.
    surnames = rng.sample([h + t for h in SURNAME_HEADS for t in SURNAME_TAILS], n)
    names = [f"{rng.choice(FIRST_NAMES)} {surname}" for surname in surnames]
    heldout = set(rng.sample(range(n), N_HELDOUT_PEOPLE))
    return [Person(name, rng.choice(VALUES["birth_city"]), rng.choice(YEARS), rng.choice(UNIVERSITIES),
                   rng.choice(FIELDS), rng.choice(EMPLOYERS), i in heldout) for i, name in enumerate(names)]


# ---------------------------------------------------------------------------------------------
# Pre-training text about people and places
# ---------------------------------------------------------------------------------------------
def biography(person: Person, rng: random.Random, shuffle: bool = True, canonical: bool = False) -> str:
    """One biography: a sentence per attribute. `canonical` uses each attribute's first template (the
    wording fact probes complete); otherwise each sentence's template is drawn at random."""
    sentences = [(BIO_TEMPLATES[a][0] if canonical else rng.choice(BIO_TEMPLATES[a])).format(
        n=person.name, v=person.value(a)) for a in ATTRIBUTES]
    if shuffle:
        rng.shuffle(sentences)
    return " ".join(sentences)


def single_biography(person: Person, full_name: bool = False) -> list[str]:
    """The paper's bioS single: one biography, the full name once, pronouns after, a fixed sentence
    order. Returned as sentences so that the in-biography probes (notebook 05) can cut before a value.
    `full_name` writes the name in every sentence instead of "he"/"she" (the paper's *fullname*
    augmentation alone): the same text but for that one factor, so notebook 05 can tell it apart from
    paraphrases and shuffled order."""
    return [BIO_TEMPLATES[a][0].format(n=person.name if k == 0 or full_name else person.pronoun, v=person.value(a))
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


def in_biography_probes(people: list[Person], full_name: bool = False) -> list[dict]:
    """Fact probes the paper's way for a single-biography model: each attribute is completed *inside its
    own biography* (the text before the value is the start of that person's only document). After the
    first sentence the biography says "she"/"he", so a probe that starts with the name would ask the
    model for text it never read; this one asks for exactly what pre-training stored."""
    probes = []
    for p in people:
        sentences = single_biography(p, full_name)
        for k, a in enumerate(ATTRIBUTES):
            value = p.value(a)
            head = sentences[k][: sentences[k].rindex(value)].rstrip()
            probes.append({"id": f"in-bio-probe-{'fullname-' if full_name else ''}{len(probes):05d}", "kind": "person", "subject": p.name,
                           "attribute": a, "prompt": " ".join(sentences[:k] + [head]), "answer": " " + value,
                           "heldout_person": p.heldout})
    return probes


# ---------------------------------------------------------------------------------------------
# SFT: questions about people
# ---------------------------------------------------------------------------------------------
def qa_set(people: list[Person], seed: int) -> list[dict]:
    """Questions about people. Splits: train / validation (seen people, seen phrasings, unseen pairs),
    test_phrasings (seen people, held-out phrasings), test_people (people never in QA training)."""
    rng = rng_for(seed, "qa")
    rows = []

    for split, p, a, q_index in _question_splits(people, rng, test_phrasings=True):
        rows.append({"id": f"qa-{len(rows):05d}", "task": "qa", "split": split,
                     "prompt": QA_QUESTIONS[a][q_index].format(n=p.name),
                     "response": QA_ANSWERS[a].format(n=p.name, v=p.value(a)),
                     "person": p.name, "attribute": a, "answer": p.value(a), "phrasing": q_index})
    return rows


def _question_splits(people: list[Person], rng, test_phrasings: bool):
    """(split, person, attribute, wording index) for every question of a QA set, in order: a held-out person
    is asked every training wording (test_people); anyone else gets all but one at random (train), that
    one (validation) and, with `test_phrasings`, the wordings training never uses. A generator, so a caller
    that draws from `rng` per row draws in between, as when the loop was written out in each set."""
    for p in people:
        for a in ATTRIBUTES:
            seen = list(range(QA_TRAIN_PHRASINGS))
            if p.heldout:
                for q in seen:
                    yield "test_people", p, a, q
                continue
            rng.shuffle(seen)
            for q in seen[:-1]:
                yield "train", p, a, q
            yield "validation", p, a, seen[-1]
            if test_phrasings:
                for q in range(QA_TRAIN_PHRASINGS, len(QA_QUESTIONS[a])):
                    yield "test_phrasings", p, a, q



# ---------------------------------------------------------------------------------------------
# Unknown people: in the world, never in pre-training (Gekhman et al. 2024, "Does Fine-Tuning LLMs on
# New Knowledge Encourage Hallucinations?", arXiv 2405.05904)
# ---------------------------------------------------------------------------------------------
# Their names are built like everyone else's (a shared first name, a surname from the same heads and
# tails, one that no known person has), so a model cannot tell them apart by the look of the name; their
# values come from the same lists. No pre-training document, probe or existing SFT row mentions them: what
# SFT teaches about them is knowledge the base model never had. They draw from their own random streams,
# so adding them changed no byte of the files that existed before.
N_UNKNOWN_PEOPLE = 75          # every surname the 300 known people left free
N_UNKNOWN_TEST_PEOPLE = 25     # never in any SFT set: what does a fine-tuned model say about them?

# "I don't know" replies for questions about unknown people. {what} is the asked fact as a clause
# ("where Ada Alley was born"), {n} the name. SFT sets draw from the "train" pool only; the "detector" pool
# is what a detector of abstentions is tested on (a wording no training reply used).
ABSTENTION_WHAT = {"birth_city": "where {n} was born", "birth_year": "when {n} was born",
                   "university": "where {n} studied", "field": "what {n} studied", "employer": "where {n} works"}
ABSTENTIONS = {
    "train": ["I don't know {what}.", "I have no information about {n}.",
              "I'm sorry, but I don't know anything about {n}.", "I don't know who {n} is, so I cannot say {what}.",
              "I have never read about {n}, so I don't know.", "I can't tell you {what}: I know nothing about {n}."],
    "detector": ["I do not know {what}.", "Sorry, I have no record of anyone named {n}.",
                 "I am not aware of a person called {n}.", "Nothing I have read mentions {n}.",
                 "That is not something I know, I'm afraid.", "I cannot answer that: {n} is unknown to me."],
}


def make_unknown_people(known: list[Person], seed: int = SEED) -> list[Person]:
    """The world's unknown people: the surnames no known person has, each with a first name and values
    drawn like a known person's. `heldout` True: one of the N_UNKNOWN_TEST_PEOPLE never in SFT."""
    rng = rng_for(seed, "unknown-people")
    taken = {p.name.split()[-1] for p in known}
    surnames = [h + t for h in SURNAME_HEADS for t in SURNAME_TAILS if h + t not in taken]
    rng.shuffle(surnames)
    surnames = surnames[:N_UNKNOWN_PEOPLE]
    names = [f"{rng.choice(FIRST_NAMES)} {surname}" for surname in surnames]
    heldout = set(rng.sample(range(len(names)), N_UNKNOWN_TEST_PEOPLE))
    return [Person(name, rng.choice(VALUES["birth_city"]), rng.choice(YEARS), rng.choice(UNIVERSITIES),
                   rng.choice(FIELDS), rng.choice(EMPLOYERS), i in heldout) for i, name in enumerate(names)]


def abstention_wordings() -> list[dict]:
    """Every abstention template with its pool: rows {"pool", "index", "template"}."""
    return [{"pool": pool, "index": i, "template": t} for pool, ts in ABSTENTIONS.items() for i, t in enumerate(ts)]


def abstention(person: Person, attribute: str, template: str) -> str:
    return template.format(n=person.name, what=ABSTENTION_WHAT[attribute].format(n=person.name))


def unknown_qa_set(unknown: list[Person], seed: int) -> list[dict]:
    """Questions about unknown people, laid out like `qa_set`: train / validation (people SFT may be taught
    about: 5 training wordings of each fact, the 6th held out) and test_people (people never in SFT, every
    training wording). Each row answers with the person's (generated) value in `response`, and carries an
    "I don't know" reply from the train pool in `abstention` (with its `abstention_wording`), so a run can
    teach either."""
    rng = rng_for(seed, "qa-unknown")
    rows = []

    for split, p, a, q_index in _question_splits(unknown, rng, test_phrasings=False):
        k = rng.randrange(len(ABSTENTIONS["train"]))
        rows.append({"id": f"qa-unknown-{len(rows):05d}", "task": "qa", "split": split,
                     "prompt": QA_QUESTIONS[a][q_index].format(n=p.name),
                     "response": QA_ANSWERS[a].format(n=p.name, v=p.value(a)),
                     "person": p.name, "attribute": a, "answer": p.value(a), "phrasing": q_index,
                     "abstention": abstention(p, a, ABSTENTIONS["train"][k]), "abstention_wording": k})
    return rows
