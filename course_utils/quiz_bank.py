"""Every quiz of the course, kept out of the notebooks so that a notebook shows the question, not the key.

A notebook cell says `show_quiz("04", 2)`: where widgets work, pick an option and press "Check"; elsewhere
the quiz prints as text and `check_quiz("04", 2, "your letter")` gives the verdict. Either way, every
option's explanation says why it is right or wrong. Quizzes are numbered in the order their notebook
shows them; each tests one idea of its notebook on a new scenario, and its wrong options are the
misconceptions that idea corrects. The three scenarios of the course's seed document are quizzes
1.3 (customer-service data), 3.3 (the law firm) and 4.1 (great at support, worse at trivia).

    from course_utils.quiz_bank import check_quiz, quiz, show_quiz
    show_quiz("04", 2)               # the widget, or the text and how to check it
    check_quiz("04", 2, "C")         # text mode: the verdict and the explanation of option C
    quiz("04", 2).question           # the Quiz object itself
"""
from __future__ import annotations

from dataclasses import replace

from .quiz import Choice, Quiz


def _quiz(topic, question, *choices) -> Quiz:
    """One quiz: `choices` are (text, correct, why) triples, A first. The title is set by its position."""
    return Quiz(question, tuple(Choice(text, correct, why) for text, correct, why in choices), topic=topic)


def _numbered(bank: dict[str, list[Quiz]]) -> dict[str, list[Quiz]]:
    return {nb: [replace(q, title=f"Quiz {int(nb)}.{i}") for i, q in enumerate(quizzes, 1)]
            for nb, quizzes in bank.items()}


QUIZZES: dict[str, list[Quiz]] = _numbered({
    "00": [
        _quiz("where SFT sits",
              "Where does supervised fine-tuning sit in the making of an assistant such as ChatGPT?",
              ("It replaces pre-training for any model that will be used as an assistant.", False,
               "SFT starts from a pre-trained model; without pre-training there is no knowledge or fluency to "
               "build on."),
              ("It runs before pre-training, to teach the model the format in which it should answer.", False,
               "The order is the other way round: general text first, then the curated examples of the behaviour."),
              ("It follows pre-training and adapts the model with curated prompt-response pairs.", True,
               "SFT is a post-training phase: the same model, trained further on a much smaller, targeted set."),
              ("It is a way to compress a trained model so that it answers faster.", False,
               "That is distillation or quantisation; SFT changes what the model does, not its size.")),
    ],
    "01": [
        _quiz("how much SFT data",
              "A team with a strong pre-trained base model can pay for one of two SFT sets: 1,000 instruction-response "
              "pairs written and reviewed by experts, covering many kinds of requests, or 200,000 question-answer "
              "pairs scraped, unreviewed, from forums. What does the LIMA result suggest?",
              ("The 200,000 scraped pairs: like pre-training, SFT improves mainly with the amount of data it "
               "sees.", False,
               "Pre-training needs volume because that is where knowledge comes from. SFT mostly shapes behaviour; "
               "LIMA matched far larger sets with 1,000 curated examples, and every flaw in a scraped reply gets "
               "imitated (notebook 06)."),
              ("The 1,000 curated pairs: the knowledge is in the base model; SFT needs clean, varied examples.", True,
               "\"Less is more for alignment\": once the base model is strong, quality and coverage beat quantity. "
               "Notebook 05 shows the same in miniature: varied wordings mattered more than more examples."),
              ("Neither: to change a model, an SFT set must hold about as many tokens as its pre-training.", False,
               "Real SFT sets are orders of magnitude smaller than pre-training corpora (InstructGPT: ~13k prompts "
               "after ~300B tokens), and they change the model's behaviour a lot."),
              ("Either: SFT only teaches the template, so which examples fill it hardly matters.", False,
               "The model imitates its examples, content and tone included; LIMA's point is that the careful choice "
               "of the 1,000 is what made them work.")),
        _quiz("what the model is trained to produce",
              "In a contract-summary example only about 17% of the tokens carry loss: the summary and its EOS. A "
              "colleague calls the contract wasted compute and proposes training on the summaries alone, without their "
              "contracts. What is wrong with that?",
              ("Nothing: tokens without loss add nothing to the gradient, so dropping them changes nothing.", False,
               "They have no loss of their own, but every summary token is predicted from them: the gradient flows "
               "through attention into the prompt's positions. Without the contract there is nothing to summarise."),
              ("The contract should be a target as well, so that the model also learns legal language.", False,
               "Then most of the loss would go into writing contracts (notebook 02 measures the prompt's share of an "
               "unmasked loss), which the model never has to do."),
              ("Nothing, as long as each summary keeps the EOS token that ends it.", False,
               "The EOS teaches the model where to stop; it says nothing about what to summarise."),
              ("The model must read the contract: it is not a target, but every summary token depends on it.", True,
               "SFT learns p(y | x): the prompt conditions every prediction of the response. Masking it only means "
               "the model is not asked to produce it.")),
        _quiz("SFT data vs pre-training data",
              "A team starts from a base model pre-trained on a huge, general web corpus. To turn it into a customer "
              "service chatbot they run a second phase of training. How will the data of this second phase most "
              "likely differ from the pre-training data?",
              ("Much smaller and curated: customer messages paired with the replies the company wants.", True,
               "That is an SFT dataset: labelled prompt-response pairs for one behaviour, small next to the web "
               "corpus, where every example is meant to be imitated."),
              ("Even larger and more diverse than the web corpus, to cover every question a customer might ask.", False,
               "Breadth was pre-training's job. The second phase needs far less data, chosen for one behaviour."),
              ("The same web corpus again, with its errors and its offensive text removed.", False,
               "Cleaner general text makes a cleaner base model, but still not one that answers customers the "
               "company's way: nothing in it shows a customer's message followed by the wanted reply."),
              ("Raw transcripts of support calls, trained on as plain text like the web corpus.", False,
               "Closer, but as plain text every token is a target: the model learns to write the customers' side "
               "too. SFT marks which part is the prompt and which is the response to learn.")),
        _quiz("a base model and a question",
              "A base model completes \"Ada Torwick works for\" with the right employer, but answers the question "
              "\"Where does Ada Torwick work?\" with a numbered contract clause. What does SFT have to add?",
              ("The fact itself: the model cannot know where Ada Torwick works until an SFT example says so.", False,
               "The completion shows the fact is stored. Notebook 05 goes further: SFT on questions about other "
               "people lets the model answer about people no SFT example mentions."),
              ("More pre-training epochs on the biographies, so that the fact is stored more firmly.", False,
               "The fact is already completed correctly; more of the same text does not teach answering questions."),
              ("The behaviour: read a question and answer it in the expected format; the fact is there.", True,
               "Notebook 01 measured it: the facts are right in completion form and the questions about them "
               "unanswered. SFT teaches the behaviour; pre-training supplied the knowledge."),
              ("A tokenizer with more question words, so that the model can parse the question.", False,
               "The question tokenises fine; the model has simply never seen a question followed by its answer.")),
    ],
    "02": [
        _quiz("what the SFT loss counts",
              "A support example has a 150-token customer message (the prompt) and a 30-token reply. What does its SFT "
              "loss add up, before dividing by a count?",
              ("-log p of all 181 tokens: the prompt, the reply and the EOS, exactly as in pre-training.", False,
               "That is the pre-training loss. Most of the signal would go into imitating customers."),
              ("-log p of the 30 reply tokens, each predicted from the earlier reply tokens only.", False,
               "The prompt must stay in the context: the reply depends on it. It is removed from the targets, "
               "not from the input."),
              ("-log p of the 30 reply tokens and the EOS, each given the prompt and the reply so far.", True,
               "Maximum likelihood of the response given the prompt: the prompt conditions every prediction but is "
               "not itself a target."),
              ("-log p of the 150 prompt tokens given the reply, so that it learns what customers ask.", False,
               "That would teach the model to guess messages from replies: the opposite direction.")),
        _quiz("why mask the prompt",
              "A colleague leaves out the loss mask to \"use every token\" of a QA set whose prompts are about 70% of "
              "the tokens. Why does SFT mask the prompt?",
              ("The model never writes prompts; unmasked, they would take most of the loss and gradient.", True,
               "Notebook 02 measured it: on the QA set the prompt carried most of the unmasked loss. The prompt still "
               "conditions every prediction; it just is not a target."),
              ("The prompt is noise: the model should not look at it at all while it predicts the answer.", False,
               "The opposite: the answer depends on the prompt, which stays in the context and is attended to at "
               "every response position. The mask only removes it from the targets."),
              ("Masking the prompt makes every training step several times faster to compute.", False,
               "The forward and backward passes still run over the prompt, since it must be read; the mask changes "
               "which positions are scored, not the compute."),
              ("Prompt tokens have no valid log-probability, so scoring them would turn the loss into NaN.", False,
               "Prompt positions have ordinary log-probabilities (notebook 02 plots them). The NaN trap is a batch "
               "with no response token at all.")),
        _quiz("learning to stop",
              "After fine-tuning, a model answers correctly and then keeps going, repeating its answer until the "
              "length limit. Which slip in the training data most likely caused it?",
              ("The prompt tokens were masked out of the loss, so it never saw where prompts end.", False,
               "Masking the prompt is right, and it has nothing to do with where a reply ends."),
              ("The learning rate was too low for the model to learn how long answers should be.", False,
               "A low rate learns everything more slowly; this model learned the answers well but never their end."),
              ("Prompts and responses were tokenised separately, which cut answers from their end.", False,
               "Separate tokenisation keeps the seam between prompt and response exact; it does not touch the end."),
              ("The EOS was left out of the masked response, so stopping was never a target.", True,
               "The EOS is how the model learns to stop. Without it, notebook 02's model ran on to the length limit "
               "in most replies.")),
        _quiz("averaging over tokens or sequences",
              "A batch mixes contract summaries of about 40 tokens with one-sentence answers of about 8 tokens. You "
              "switch the loss from normalize=\"tokens\" to normalize=\"sequences\". What changes?",
              ("Nothing but the scale: both divide the same summed loss by a count, so only a constant differs.", False,
               "The sequence mean averages within each example first, which changes the relative weight of tokens, "
               "not just the overall scale."),
              ("Each example now weighs the same: a short answer's token counts about 5x a summary token.", True,
               "Notebook 02 printed it for a 36- and an 8-token response: 4.5x. Neither mean is wrong; they are "
               "different objectives, so choose one on purpose."),
              ("Each token now weighs the same, so the long summaries count for more in total than before.", False,
               "That describes the token mean, the one you switched away from."),
              ("The sequence mean is a bug: its gradients are wrong and it should never be used.", False,
               "It is a legitimate objective (every example counts equally). The mistake is to switch between the "
               "two without noticing, for instance by changing the batch size.")),
        _quiz("gradient accumulation",
              "A step of 32 examples is split into 4 micro-batches holding 20, 200, 35 and 45 response tokens. The "
              "loop averages the four micro-batch mean losses before the optimizer step. What goes wrong?",
              ("A token of the 20-token micro-batch weighs 10x one of the 200-token micro-batch.", True,
               "The fix: divide each micro-batch's summed loss by the step's total token count; that reproduces the "
               "big-batch gradient exactly. This was a real bug in Hugging Face transformers until October 2024."),
              ("Nothing: the mean of the four micro-batch means equals the mean over all 32 examples.", False,
               "Only when every micro-batch holds the same number of tokens. Notebook 02 measured a 17% gradient "
               "error with uneven micro-batches."),
              ("The gradient is four times too large, so the learning rate must be divided by four.", False,
               "Dividing by the number of micro-batches already fixes the scale; what is wrong is the relative "
               "weight of tokens in different micro-batches."),
              ("The micro-batches leak information into each other through the optimizer's moments.", False,
               "The optimizer steps once, after all micro-batches; the problem is how their losses are weighted.")),
    ],
    "03": [
        _quiz("sorting batches by length",
              "An instruction mix holds short questions (about 25 tokens) and long contracts (about 230). To save "
              "padding, someone sorts the examples by length before cutting them into batches of 8. Besides speed, "
              "what changes?",
              ("Nothing: each example is still seen once per epoch, so the objective stays the same.", False,
               "Each step averages over its own batch's tokens; with single-task batches the tasks' weights in "
               "the objective change."),
              ("The long task can no longer be learned, because long batches now come too rarely.", False,
               "Long batches come exactly as often as long examples do; what changes is how much each of their "
               "tokens weighs."),
              ("Examples in a sorted batch start to attend to each other across the batch's rows.", False,
               "Rows of a padded batch never attend to each other, whatever their order. Attending across examples "
               "is a risk of packing without a block-diagonal mask."),
              ("Batches become single-task: a short answer's token weighs several times a summary's.", True,
               "A step of short answers counts as much as a step of summaries, so the mix you chose is not the mix "
               "you train. Random batches keep the mix; splitting each batch by length (or packing) still drops the "
               "padding (notebook 03, section 2).")),
        _quiz("which checkpoint to keep",
              "A run's validation loss is lowest at step 1,500 of 2,000 and has risen by 8% since, while the training "
              "loss keeps falling. Which checkpoint should be kept, and why?",
              ("The last one: its training loss is the lowest of the whole run, so it fits the data best.", False,
               "The training loss measures how well the model fits its own examples, not how it does on new ones."),
              ("The one at step 1,500: the lowest validation loss, the best guide to new prompts.", True,
               "Then check the tasks themselves on held-out prompts: a loss is not a task score."),
              ("None: a validation loss that rises at the end means the whole run failed.", False,
               "A late rise is the first sign of overfitting, not a failure; the checkpoint before it is still good."),
              ("The first one: every later checkpoint has forgotten more of its pre-training.", False,
               "Early checkpoints have not learned the tasks yet; forgetting is measured separately (notebook 04).")),
        _quiz("the law firm's summaries",
              "A law firm wants a model that reads a long contract and writes a one-paragraph summary of its term, "
              "liability limits and governing law. Paralegals can write several thousand high-quality contract-summary "
              "pairs. What is the most effective and direct way to train the model for this task?",
              ("SFT of a pre-trained model on the pairs: contract as prompt, summary as response.", True,
               "The pairs are exactly SFT data; the loss on the summary tokens teaches the task while the model "
               "keeps what pre-training taught it (notebook 03: nearly all held-out summaries fully right)."),
              ("Pre-train a new model from scratch on the pairs, so it learns nothing but legal text.", False,
               "Several thousand pairs are far too little to learn a language from scratch; start from a "
               "pre-trained model."),
              ("Keep the base model and put a few example pairs before each new contract in the prompt.", False,
               "Few-shot prompting is cheaper but weaker and bounded by the context window; in notebook 03 one "
               "worked example plus a contract does not even fit, and the prompted base model scores about 0%."),
              ("Continue pre-training on a large corpus of unlabelled legal text, then ask for summaries.", False,
               "That adds legal knowledge, but never shows the model the summary it should write.")),
        _quiz("contracts with never-seen values",
              "A fine-tuned model writes nearly all held-out contract summaries fully right, but none right for "
              "contracts whose term, cap and governing law appear in no SFT example: there it writes values it has "
              "seen. What is the best reading?",
              ("The scorer must be broken: a model that summarises new contracts well can summarise any "
               "contract.", False,
               "The printed reply shows the wrong values plainly. The held-out contracts were new documents built "
               "from values seen in training; the novel ones are not."),
              ("SFT cannot teach a new task at all: the good held-out score came from memorised training data.", False,
               "The held-out contracts are new documents (new parties, clause orders, wordings): the task was "
               "learned, within the values it saw."),
              ("It learned to recognise values it saw, not to copy any string; copying comes from pre-training.", True,
               "SFT adapts what pre-training laid down. Large models learn to copy from web-scale text; a 2.6M model "
               "that read a tiny world did not, and a minute of SFT does not conjure it."),
              ("More epochs on the same contracts would fix it, since the training loss is not yet zero.", False,
               "More passes over the same small book of values fit those values better, not others. Even on "
               "contracts with wide value ranges, this model needed hundreds of steps before it began to copy, and "
               "some runs did not start within that budget.")),
        _quiz("learning from conversations",
              "A shop's assistant was fine-tuned on single turns (one customer message, one reply). In live chats it "
              "answers follow-ups such as \"Then please cancel it.\" as if the earlier turns were not there. The team "
              "will fine-tune on logged chats of several turns. Which tokens of a chat should carry the loss?",
              ("Only the last assistant reply of each chat; the earlier replies are context, like a prompt.", False,
               "The earlier replies are assistant output too, as correct as the last: masking them out throws away "
               "most of each chat's signal, and the first reply of a chat is never practised. (Some recipes do it on "
               "purpose, when earlier replies came from another model.)"),
              ("Every assistant turn and the end-of-turn token after each; the system and customer turns are only "
               "read.", True,
               "Each reply is something the model must write, in the context of everything before it; the customer's "
               "turns are what it reads. This is what the chat template's generation markers mark (notebook 02, "
               "section 7) and what section 8 trains on."),
              ("Every token, customer turns included, so the model also learns how customers write.", False,
               "Then it learns to write the customer's side too and to continue a chat by impersonating the customer; "
               "the same reason the prompt is masked in single-turn SFT (notebook 02)."),
              ("No change is needed: the earlier turns are already in the model's context at chat time.", False,
               "Being in the context is not enough: the single-turn model of section 8 got few follow-ups right with the "
               "whole conversation in front of it (the share is printed there). It has to be trained to use them.")),
    ],
    "04": [
        _quiz("great at support, worse at trivia",
              "A team fine-tunes a large pre-trained model on customer-support chat logs. It becomes excellent at "
              "support conversations, but its answers to general trivia questions get noticeably worse. What does this "
              "most directly illustrate?",
              ("Catastrophic forgetting: SFT on a narrow task overwrote general knowledge.", True,
               "What notebook 04 measures: fact accuracy collapses while the support score rises. Nothing in the "
               "support loss protects the weights that stored the facts."),
              ("Overfitting: the model memorised the support logs and would fail on new support chats.", False,
               "Overfitting is about the task itself. Here the support skill is fine on new chats; what degrades is "
               "knowledge the support data never touched."),
              ("The support logs must have contained wrong trivia facts, which the model then learned.", False,
               "The course's support logs contain no trivia at all, and the facts were still lost."),
              ("Fine-tuning always makes a model worse overall, so it is best avoided.", False,
               "SFT is what made the model useful for support; the cost can be limited (replay, smaller steps, "
               "freezing) and must be measured.")),
        _quiz("stopping early",
              "In a plain support run, most facts were gone at the first measurement (step 100) while the support "
              "score was still low. A colleague proposes stopping the run at step 100 to avoid forgetting. What do "
              "the measurements say?",
              ("Good idea: fewer steps always mean less forgetting, and a usable model at the end.", False,
               "Fewer steps only move back along the same curve, and on this curve the facts were lost before the "
               "task was learned."),
              ("It works only if the batch size is halved as well, so that each step changes less.", False,
               "A smaller batch does not change the order the measurements show: the facts went first."),
              ("Stopping early loses both: the facts are already gone, the task not yet learned.", True,
               "Forgetting came first. A lower learning rate or replay gives a different curve; stopping early "
               "only picks an earlier point on this one."),
              ("Stopping at step 100 is the same as training all 400 steps at a quarter of the rate.", False,
               "Notebook 04 shows otherwise: the lower rate kept most facts, while the plain run had lost them at "
               "every measured step.")),
        _quiz("a lower learning rate",
              "At the same 400 steps, a plain support run at the pre-training peak rate kept 5% of the facts and got "
              "75% of support replies right; the same run at a quarter of that rate kept 85% of the facts and got 40% "
              "right. What should the team conclude about lowering the learning rate?",
              ("A lower rate prevents forgetting at no cost: always use the lowest rate that trains.", False,
               "It forgot far less, but it also learned far less of the task in the same budget: a trade-off, "
               "not a free fix."),
              ("It trades task skill for knowledge at this budget; judge it on both numbers.", True,
               "A lower rate is a different curve, not a cure. Notebook 04 puts every setting on one trade-off "
               "plot; there, replay kept the facts and came within a few points of the plain run's task score."),
              ("The lower rate is the plain run stopped earlier, so it tells the team nothing new.", False,
               "The plain run lost its facts at every measured step; the lower rate lands far above that curve. "
               "It is a different curve, not a point on the plain one."),
              ("The lower rate forgot less only because it trained on fewer support examples.", False,
               "Both runs saw the same 400 steps of 8 examples; only the size of each step differed.")),
        _quiz("replay at scale",
              "In notebook 04, replaying pre-training text (30% of the training set) kept nearly all the facts. Why "
              "might the same replay protect much less when fine-tuning a real 7B model?",
              ("Replay only works for small models; large ones get nothing out of rehearsing old data.", False,
               "Replay (rehearsal) is used at every scale; what changes is how much of the old data it can cover."),
              ("Large models do not forget, so the replay would have nothing left to protect.", False,
               "They do, especially on narrow tasks at high learning rates; that is why mitigations are studied."),
              ("The replayed 30% would have to be taken out of the SFT data, so the task suffers.", False,
               "Replay is added to the SFT data; in notebook 04 the task was learned about as well as without it."),
              ("Here it rehearsed nearly every fact the probes test; at scale it is a thin slice.", True,
               "The course's replay is its best case: its corpus is tiny. Always ask what the replay rehearses, and "
               "keep measuring general knowledge.")),
    ],
    "05": [
        _quiz("new people, new tasks",
              "A model is fine-tuned to answer questions about 240 people. It then answers questions about 60 other "
              "people, known only from pre-training, almost as well, but answers questions about cities as if they "
              "were about people. What does this show?",
              ("SFT memorised the answers for all 300 people, the 60 held-out people included, from the QA "
               "data.", False,
               "The 60 people never appear in any SFT example; there was nothing to memorise."),
              ("SFT taught a skill, find a stored fact and state it, that carries over within the task.", True,
               "Within-task generalization: the facts come from pre-training, the way to answer from SFT. Another "
               "task (cities) needs SFT examples of its own, or a broad instruction mix."),
              ("SFT made the model answer every kind of question; the cities are a scorer problem.", False,
               "The city replies name a person and an employer: the model maps every prompt onto the one task it "
               "was fine-tuned on."),
              ("The 60 people needed no pre-training: SFT supplied what the model knows about them.", False,
               "Without pre-training the model could not know their facts at all: no SFT example mentions them.")),
        _quiz("a QA set with one wording",
              "A team's QA set has 900 examples that ask about each attribute in a single wording (\"Where was X "
              "born?\"). Users phrase their questions in many ways, and accuracy on other wordings is poor. Which next "
              "step helps most?",
              ("Collect ten times more examples in the same wording: more data generalizes better.", False,
               "Past the first 900 examples, size added little beyond the seed spread in notebook 05. What is "
               "missing here is variety, not quantity."),
              ("Train for more epochs on the same 900 until the training loss is close to zero.", False,
               "More passes fit the one wording better; they never show the model another. A lower training loss "
               "is not generalization."),
              ("Nothing: once the format is learned, SFT generalizes to new wordings by itself.", False,
               "With one wording per attribute, the model stumbled on new ones; the format alone does not carry over."),
              ("Rewrite the same 900 examples in several wordings per attribute, same size.", True,
               "In notebook 05, all six wordings instead of one at the same 900 examples took new-wording accuracy "
               "from about a quarter of the questions to most of them: diversity helps where it is missing.")),
        _quiz("reading differences between runs",
              "Setting A scores 81% and setting B 82% on one run each. Over three seeds, A ranges over 77-83% and B "
              "over 82-83%. What can you conclude?",
              ("B is better: its mean over the three seeds is the higher one.", False,
               "A difference smaller than the seed-to-seed spread can flip with the next seed."),
              ("A is better: it reached the highest single score of all, 83%.", False,
               "A single best run is the least reliable number of all."),
              ("Neither is shown better: the gap is within the seed spread.", True,
               "Notebook 05's rule: a difference counts when every seed of one setting beats every seed of the "
               "other. More seeds or a larger test set can settle it."),
              ("The test must be broken, since one setting gives different numbers.", False,
               "Runs vary with the seed (training subset, batch order); that is why comparisons use several.")),
        _quiz("checking a generalization claim",
              "A team holds out 600 of its 6,000 QA rows at random, fine-tunes on the rest and reports 93% on the 600 "
              "as proof that the model answers questions about new people. What is wrong with the claim?",
              ("Test people appear in training too, often the same fact in other words.", True,
               "A random row split puts every person on both sides, so the test measures memory as much as skill. "
               "Hold out whole people (exercise 5.1), then test on them."),
              ("Nothing: rows the model never trained on test new people by definition, whatever the split.", False,
               "A new row is not a new person: the facts in a test row were often trained on, in another wording."),
              ("93% is too high to be real: the scorer must be accepting wrong answers.", False,
               "Nothing suggests the scorer is lax; the number is high because the test repeats what training saw."),
              ("The test set is too small: 600 rows cannot give a number worth trusting.", False,
               "600 rows give a fairly tight estimate; the problem is what they measure, not how precisely.")),
        _quiz("same SFT, different base models",
              "Two base models each complete 100% of the facts in their own biographies. The first read several "
              "paraphrased biographies per person, the second a single one per person. After the same QA fine-tuning, "
              "the first answers questions about new people 82% right, the second 14%. What explains the gap?",
              ("The second was fine-tuned too briefly: more SFT epochs on the same questions would close the "
               "gap.", False,
               "Both got the same SFT. More SFT on the training people fits those people better; it cannot change "
               "how the new people's facts were written into the weights in pre-training."),
              ("The second stored fewer facts in pre-training, so there is less to retrieve.", False,
               "Both complete all their facts when asked in the form they read them: storage is not the difference."),
              ("How pre-training wrote the facts: read in one form, they are stored but hard to extract.", True,
               "The Physics of Language Models 3.1 result, reproduced in notebook 05: augmented pre-training data "
               "makes stored knowledge extractable by SFT."),
              ("The scorer is stricter with the second model's shorter, pronoun-based answers to questions.", False,
               "The same scorer and the same test rows are used for both.")),
    ],
    "06": [
        _quiz("where bad replies come from",
              "A team fine-tunes its support model on 50,000 logged chats. Afterwards about 1 in 60 replies is curt or "
              "rude, though the base model never was. What is the most likely cause, and the first fix?",
              ("The learning rate was too high; lower it and train again to stop the rude replies.", False,
               "A lower learning rate changes how fast the model learns, not what: the data still shows rudeness."),
              ("The model forgot its pre-training manners; mix in replay data to bring them back.", False,
               "Replay protects general knowledge (notebook 04); it does not remove rude targets from the SFT data."),
              ("Some logged replies were rude and SFT imitated them; remove them and retrain.", True,
               "SFT reproduces its data: in notebook 06 bad training replies became bad replies to new customers, "
               "and filtering them out cut the rate."),
              ("Sampling is to blame; decoding greedily in production removes the problem for good.", False,
               "Greedy decoding hides rare behaviour in a test, but the model still holds it; the cause is the data.")),
        _quiz("testing before launch",
              "Before launch, a team tests its fine-tuned support bot on 100 held-out chats with greedy decoding and "
              "finds no bad reply. Is the bot shown to be safe to ship?",
              ("No: greedy hides rare replies; sample many, as users get them, with an interval.", True,
               "Users meet sampled replies. In notebook 06 bad replies appeared at a few to a dozen per hundred "
               "samples, and 300 samples tell a rate from zero only where the 95% intervals come apart."),
              ("Yes: 100 clean replies out of 100 tested prove that the bot's rate of bad replies is zero.", False,
               "0 in 100 is compatible with a rate of a few percent (the 95% interval reaches about 3.7%), and "
               "greedy decoding hides what sampling would show."),
              ("Yes, provided the training data was filtered: then testing adds nothing.", False,
               "Filters catch what they look for. Notebook 06's filter left some bad examples in, and a frequent bad "
               "habit slips through a loss filter entirely: measure after filtering too."),
              ("No: greedy decoding makes bad replies more likely than sampling would.", False,
               "Greedy decoding picks the most likely reply, usually an ordinary one; it hides rare behaviour "
               "rather than causing it.")),
        _quiz("what a loss filter can see",
              "A filter flags the 20% of training replies the fine-tuned model finds most surprising. In a new "
              "dataset, every third reply promises a refund the policy does not allow. Will the filter catch them?",
              ("Yes: a forbidden promise is always surprising to the model, however often it occurs.", False,
               "Surprise is relative to the data: a pattern in a third of the replies is what the model expects."),
              ("Yes, as long as the cutoff flags at least the top 20% of replies by surprise.", False,
               "The cutoff sets how many replies are flagged, not which kind of problem the score can see."),
              ("No: loss-based filters only find rude words; promises need a human reviewer.", False,
               "The loss filter caught over-promises in notebook 06 too, because there they were rare."),
              ("No: what a third of the replies do is not surprising; a rule or review must catch it.", True,
               "A loss-based filter finds what is rare. What is common and wrong needs a rule for it, or reviewers "
               "reading samples.")),
        _quiz("a polite model",
              "After filtering, the fine-tuned support model replies politely to every test customer. Has SFT taught "
              "it that insults are wrong?",
              ("Yes: it never insults anyone in testing, so it has learned the rule against it.", False,
               "It imitates polite data. Nothing in SFT told it what not to say, and a prompt unlike its data can "
               "still get anything."),
              ("No: it imitates polite targets; nothing taught it that rude replies are wrong.", True,
               "Teaching what not to say takes negative signal (preference tuning, safety data), and a later "
               "fine-tune on a few bad examples can undo it (Qi et al., 2023)."),
              ("Yes: the rude examples were removed by a rule, and the model learned that rule.", False,
               "The rule shaped the data, not the model's objective: the model never saw the rule or what it removed."),
              ("No, because a model this small cannot learn any rules at all.", False,
               "Size is not the issue: SFT of any model maximises the likelihood of its targets, good or bad.")),
    ],
    "07": [
        _quiz("why the same loss matters",
              "On the same weights and the same batch, your hand-written loop reports a loss of 2.47 and SFTTrainer 2.31. "
              "What do you conclude before comparing any trained models?",
              ("Different objectives: the tokens, mask or normalisation differ; find which.", True,
               "Float rounding moves a loss by about 1e-6, not 0.16. Until the numbers agree, a difference between "
               "the trained models could come from the objective rather than from the library's loop."),
              ("Nothing: a difference that small is normal floating-point noise between libraries.", False,
               "Rounding differences on a batch like this are near 1e-6; 0.16 is a different computation, such as "
               "prompt tokens counted, or a per-sequence mean instead of a per-token one."),
              ("TRL is better: its lower loss means it will train a better model.", False,
               "Two numbers from two objectives are not comparable: a loss that averages differently, or includes "
               "easy prompt tokens, can be lower without the model being any better."),
              ("It will average out: small per-batch differences cancel over many steps.", False,
               "A systematic difference (which tokens count, how they are weighted) pushes every step the same way; "
               "it changes what the model learns, it does not cancel.")),
        _quiz("packing without position resets",
              "You pack three short conversations end to end into one row, keeping the plain causal attention mask and "
              "positions 0, 1, 2, ... running across the whole row. What does the third conversation's reply learn from?",
              ("Only its own conversation: the assistant mask keeps the examples apart.", False,
               "The mask decides which tokens are targets, not what a token can attend to: with a plain causal mask "
               "every token still looks at the conversations before it."),
              ("The same as unpacked, because packing only saves padding and never changes the loss.", False,
               "That holds only with positions that restart at 0 and a block-diagonal mask (notebook 03's "
               "collate_packed); without them the inputs differ, so the loss and gradients do too."),
              ("Nothing: the positions run past the model's window, so the row is cut before it.", False,
               "Three short conversations fit in the window; the row is not cut. The problem is what each token "
               "attends to and at which positions, not the length."),
              ("The earlier, unrelated conversations too, at positions unseen at inference.", True,
               "It attends across the seams and learns to use context that will not be there when it answers a "
               "single conversation. Reset the positions and mask across examples, as collate_packed does.")),
        _quiz("a template without generation markers",
              "You give SFTTrainer (assistant_only_loss=True) a chat template that renders exactly the same text as the "
              "course's, but without the {% generation %} markers. Which tokens would the assistant mask mark as targets?",
              ("The same tokens as before: the rendered text is identical, so the mask is too.", False,
               "The mask does not come from the text: it comes from the markers, which say where the assistant's "
               "part starts and ends. Same text, no markers, no mask (notebook 02, Trap 8)."),
              ("Every token: with no markers the whole conversation becomes the target.", False,
               "Nothing in the template marks any token, so nothing is switched on; training on every token would "
               "be plain language modelling, which is a different setting (assistant_only_loss=False)."),
              ("None: no token is marked, so no token carries loss and there is nothing to learn.", True,
               "The mask is all zeros. A loss normalised by the token count is then 0/0 or a silent zero; that is why "
               "TRL checks every example for at least one assistant token before it trains."),
              ("Only the end-of-sequence tokens, which the tokenizer always marks.", False,
               "A tokenizer marks nothing by itself: the EOS is a target only because the course's template puts it "
               "inside the generation block.")),
    ],
})


def quiz(notebook: str, number: int) -> Quiz:
    """Quiz `number` (1-based, in the order the notebook shows them) of a notebook ("00" to "06")."""
    notebook = str(notebook).zfill(2)
    if notebook not in QUIZZES:
        raise ValueError(f"no quizzes for notebook {notebook!r}; choose one of {', '.join(QUIZZES)}")
    quizzes = QUIZZES[notebook]
    if not 1 <= number <= len(quizzes):
        raise ValueError(f"notebook {notebook} has quizzes 1 to {len(quizzes)}, not {number}")
    return quizzes[number - 1]


def show_quiz(notebook: str, number: int) -> None:
    """Show a quiz: a widget where widgets work; elsewhere the question as text, checked with check_quiz."""
    quiz(notebook, number).show(
        check_hint=f"from course_utils.quiz_bank import check_quiz; check_quiz({notebook!r}, {number}, 'your letter')")


def check_quiz(notebook: str, number: int, letter: str) -> None:
    """Without widgets: print whether `letter` is right, and why."""
    quiz(notebook, number).answer(letter)
