"""Every quiz of the course, kept out of the notebooks so that a notebook shows the question, not the key.

A notebook cell says `show_quiz("04", 2)`; the widget (or the text fallback) lists the options, and
only a press of "Check" (or `check_quiz("04", 2, "your letter")` without widgets) reveals the verdict
and the explanation of the chosen option. Each notebook's quizzes test its ideas with a scenario,
not its wording; the three scenarios of the course's seed document are 01.1, 03.1 and 04.1.
"""
from __future__ import annotations

from .quiz import Choice, Quiz


def _quiz(title, question, *choices) -> Quiz:
    return Quiz(question, tuple(Choice(text, correct, why) for text, correct, why in choices), title=title)


QUIZZES: dict[str, list[Quiz]] = {
    "00": [
        _quiz("Quiz 0.1", "Where does supervised fine-tuning sit in the making of an assistant such as ChatGPT?",
              ("It replaces pre-training for models that will be used as assistants.", False,
               "SFT starts from a pre-trained model; without pre-training there is no knowledge or fluency to build on."),
              ("It runs before pre-training to teach the model the format of answers.", False,
               "The order is the other way round: general text first, instructions second."),
              ("It follows pre-training, and adapts the model with curated prompt-response pairs.", True,
               "SFT is a post-training phase: the same model, trained further on a much smaller, targeted set."),
              ("It is a way to compress a model after training.", False,
               "That is distillation or quantisation; SFT changes what the model does, not its size.")),
    ],
    "01": [
        _quiz("Quiz 1.1", "A team starts from a base model pre-trained on a huge, general web corpus. To turn it into a "
              "customer service chatbot they run a second phase of training. How will the data of this second phase "
              "most likely differ from the pre-training data?",
              ("It will be even larger and more diverse, to cover every question a customer might ask.", False,
               "Breadth was pre-training's job. The second phase needs far less data, chosen for one behaviour."),
              ("It will be the same web corpus with errors and offensive text removed.", False,
               "Cleaner general text makes a cleaner base model, but still not one that answers customers in the company's way."),
              ("It will be much smaller and curated: pairs of customer messages and the replies the company wants.", True,
               "That is an SFT dataset: labelled prompt-response pairs, specific to the task, small next to the web corpus."),
              ("It will be raw transcripts of support calls, used as plain text.", False,
               "Closer, but as plain text every token is a target: the model learns to write the customer's side too. "
               "SFT marks which part is the prompt and which the response to learn.")),
        _quiz("Quiz 1.2", "A base model completes \"Ada Torwick works for\" with the right employer, but answers the "
              "question \"Where does Ada Torwick work?\" with numbered contract clauses. What does SFT have to add?",
              ("The behaviour: to read an instruction and answer it in the expected format; the fact is already there.", True,
               "Notebook 01 measured it: 100% of the facts in completion form, 0% as instructions. SFT teaches the behaviour."),
              ("The fact itself: the model cannot know where Ada works until an SFT example says so.", False,
               "The completion shows the fact is stored. Notebook 05 goes further: SFT on other people's questions "
               "lets the model answer about people no SFT example mentioned."),
              ("More pre-training epochs, so that the fact is stored more firmly.", False,
               "The fact is already recalled perfectly in completion form; more of the same text does not teach answering."),
              ("A larger vocabulary, so that the question's words are tokenised better.", False,
               "The question tokenises fine; the model has simply never seen a question followed by its answer.")),
        _quiz("Quiz 1.3", "LIMA turned a strong base model into a good assistant with 1,000 carefully chosen examples. "
              "What does that suggest about SFT data?",
              ("SFT needs at least as many tokens as pre-training to work.", False,
               "LIMA's 1,000 examples are a vanishing fraction of the trillions of pre-training tokens."),
              ("Any 1,000 examples would do, since SFT only teaches the format.", False,
               "The examples were curated for quality and diversity; that choice is the point of the result."),
              ("The number of examples does not matter at all.", False,
               "Too few or too narrow examples do not cover the behaviour; notebook 05 measures how size and diversity matter."),
              ("Quality and coverage matter more than quantity: the knowledge comes from pre-training, SFT shapes the behaviour.", True,
               "\"Less is more for alignment\": a small, diverse, well-written set goes a long way on a strong base model.")),
    ],
    "02": [
        _quiz("Quiz 2.1", "A support chat example has a 150-token customer message (the prompt) and a 30-token reply. "
              "What does the SFT loss for this example add up?",
              ("-log p of all 181 tokens, prompt, reply and EOS.", False,
               "That is the pre-training loss. Most of the signal would go into imitating customers."),
              ("-log p of the 30 reply tokens, conditioned on nothing but the reply so far.", False,
               "The prompt must stay in the context: the reply depends on it. It is only removed from the targets."),
              ("-log p of the 30 reply tokens and the EOS, each conditioned on the prompt and the reply so far.", True,
               "Maximum likelihood of the response given the prompt: the prompt conditions every prediction but is not a target."),
              ("-log p of the prompt given the reply.", False,
               "That would teach the model to guess questions from answers, the opposite direction.")),
        _quiz("Quiz 2.2", "A batch of 32 is split into 4 micro-batches holding 20, 200, 35 and 45 response tokens. The "
              "loop averages the four micro-batch mean losses before the optimizer step. What goes wrong?",
              ("Nothing: the average of the means is the mean of the batch.", False,
               "Only when every micro-batch holds the same number of tokens. Notebook 02 measured a 17% gradient error."),
              ("A token in the 20-token micro-batch weighs ten times as much as one in the 200-token micro-batch; "
               "divide each micro-batch's summed loss by the step's total token count instead.", True,
               "That is the 2024 gradient-accumulation bug, and its fix reproduces the big-batch gradient exactly."),
              ("The gradients are four times too large; divide the learning rate by four.", False,
               "The scale is right on average; what is wrong is the relative weight of tokens in different micro-batches."),
              ("Micro-batches leak information between each other through the optimizer state.", False,
               "The optimizer steps once, after all micro-batches; the problem is how their losses are weighted.")),
        _quiz("Quiz 2.3", "After fine-tuning, a model answers correctly and then keeps going, repeating its answer until "
              "the length limit. Which slip in the training data most likely caused it?",
              ("The prompt tokens were masked out of the loss.", False,
               "Masking the prompt is right; it does not affect whether the model learns to stop."),
              ("The learning rate was too low.", False,
               "A low rate learns everything more slowly; this model learned the answers fine but never learned to end them."),
              ("The responses were tokenised separately from the prompts.", False,
               "That is what keeps the seam exact; it has nothing to do with stopping."),
              ("The EOS token was not part of the masked response, so stopping was never a target.", True,
               "Trap 3: without the EOS in the response mask the model never learns where a reply ends.")),
    ],
    "03": [
        _quiz("Quiz 3.1", "A law firm wants a model that reads a long contract and writes a one-paragraph summary of its "
              "term, liability limits and governing law. Paralegals can write several thousand high-quality "
              "contract-summary pairs. What is the most effective and direct way to train the model for this task?",
              ("Fine-tune a pre-trained model on the pairs with SFT: contract as the prompt, summary as the response.", True,
               "The pairs are exactly SFT data; the loss on the summary tokens teaches the task while the model keeps "
               "what pre-training taught it (notebook 03: held-out summaries almost all fully right)."),
              ("Pre-train a new model from scratch on the contract-summary pairs.", False,
               "Several thousand pairs are far too little to learn language from scratch; start from a pre-trained model."),
              ("Keep the base model and put a few example pairs in every prompt.", False,
               "Few-shot prompting is cheaper but weaker and limited by the context window; in notebook 03 one example "
               "plus a contract does not even fit, and the zero-shot base model scores near 0%."),
              ("Continue pre-training on a large corpus of unlabelled legal text.", False,
               "That adds legal knowledge, but never shows the model the summary it should write.")),
        _quiz("Quiz 3.2", "An instruction mix holds short questions (about 25 tokens) and long contracts (about 230). To "
              "save padding, someone sorts the examples by length before cutting them into batches. Besides speed, "
              "what changes?",
              ("Nothing: every example is still seen once per epoch, so the objective is the same.", False,
               "Each step averages over its own batch: with single-task batches, the tasks' weights in the loss change."),
              ("Batches become single-task, and a step of short answers weighs as much as a step of long summaries, so "
               "a token of a short answer counts several times more than a token of a summary.", True,
               "That re-weights the mix. Random batches keep every task in every batch; packing removes the padding "
               "without sorting (section 2 of notebook 03)."),
              ("The model can no longer learn the long task, since long batches come too rarely.", False,
               "Long batches come as often as long examples do; it is their weight per token that changes."),
              ("Examples start attending to each other across the batch.", False,
               "Padding with an attention mask keeps examples apart whatever their order; that risk belongs to packing "
               "without a block-diagonal mask.")),
        _quiz("Quiz 3.3", "The validation loss of a run was lowest at step 700 of 720 and then rose by 6%, while the "
              "training loss kept falling. Which checkpoint should be kept, and why?",
              ("The last one: the training loss is lowest there.", False,
               "The training loss measures how well the model fits its own examples, not how it does on new ones."),
              ("None: any rise of the validation loss means the run failed.", False,
               "A late rise is the first sign of overfitting, not a failure; the run before it is still good."),
              ("The one at step 700: the lowest validation loss is the best estimate of how it does on new prompts.", True,
               "And then check the tasks themselves on held-out prompts: a loss is not a task score."),
              ("The first one: later checkpoints have forgotten more.", False,
               "Early checkpoints have not learned the tasks yet; forgetting is measured separately (notebook 04).")),
    ],
    "04": [
        _quiz("Quiz 4.1", "A team fine-tunes a large pre-trained model on customer-support chat logs. It becomes excellent "
              "at support conversations, but its answers to general trivia questions get noticeably worse. What does "
              "this most directly illustrate?",
              ("Overfitting: the model memorised the support logs.", False,
               "Overfitting is about the task itself (failing on new support chats). Here the support skill is fine; "
               "what degrades is knowledge the support data never touched."),
              ("The support logs contained wrong trivia facts.", False,
               "The course's support logs contain no trivia at all, and the facts were still lost."),
              ("Fine-tuning always makes a model worse, so it should be avoided.", False,
               "SFT is what made the model useful for support; the cost can be limited (section 3)."),
              ("Catastrophic forgetting: SFT on a narrow task overwrote general knowledge from pre-training.", True,
               "Exactly what notebook 04 measured: fact accuracy fell while the support score rose.")),
        _quiz("Quiz 4.2", "In the plain run the facts were gone at the first measurement (step 100), while the support "
              "score was still low. A colleague proposes stopping the run at step 100 to avoid forgetting. What do the "
              "measurements say?",
              ("Good idea: fewer steps always mean less forgetting and a usable model.", False,
               "Fewer steps move back along the same curve, and on this curve the facts were lost before the task was learned."),
              ("Stopping early loses both: forgetting came first, so at step 100 the facts are gone and the task is not learned.", True,
               "A lower learning rate or replay gives a different curve; stopping early does not."),
              ("It depends only on the batch size.", False,
               "The measured order, facts first and task later, is the point; the batch size does not undo it."),
              ("Stopping early is the same as lowering the learning rate.", False,
               "The lower learning rate kept most facts at every budget, while the plain run at any measured step had lost them.")),
        _quiz("Quiz 4.3", "Replaying 30% pre-training text kept about 96% of the facts in notebook 04. Why might replay "
              "protect much less when fine-tuning a real 7B model?",
              ("Replay only works for small models.", False,
               "Replay (rehearsal) is used at every scale; what changes is how much of the old data it can cover."),
              ("Real models do not forget.", False,
               "They do, especially on narrow tasks with high learning rates; that is why mitigations are studied."),
              ("Here the replayed text covered almost every fact the probes test; a real pre-training corpus is vast, and "
               "a replay sample rehearses only a thin slice of it.", True,
               "Always ask what the replay rehearses: the course's replay is its best case."),
              ("The 30% would have to be taken from the SFT data instead.", False,
               "Replaying SFT data is just more SFT; replay means old, general data.")),
    ],
    "05": [
        _quiz("Quiz 5.1", "A model is fine-tuned to answer questions about 240 people and then answers questions about 60 "
              "other people (known only from pre-training) almost as well. What does this show?",
              ("SFT memorised the answers for all 300 people.", False,
               "The 60 people never appeared in any SFT example; there was nothing to memorise."),
              ("SFT will now answer any kind of question.", False,
               "Questions about cities failed completely: generalization across tasks needs SFT data for them."),
              ("Pre-training was not needed for these people.", False,
               "Without pre-training the model could not know their facts at all."),
              ("SFT taught a skill (retrieve a stored fact and state it) that transfers to new entities within the same task.", True,
               "Within-task generalization: the facts come from pre-training, the way to answer from SFT.")),
        _quiz("Quiz 5.2", "Two base models both complete 100% of their biographies. After the same QA fine-tuning, one "
              "answers questions about new people 82% right, the other 14%. What explains the difference?",
              ("The second model was fine-tuned too briefly.", False,
               "Both got the same fine-tuning, and the second answers the people it was trained on; the gap is on new people."),
              ("How pre-training wrote the facts: one biography naming the person once, then \"she\", stores the facts in a "
               "form a question cannot reach; paraphrased, shuffled biographies make them extractable.", True,
               "The Physics of Language Models 3.1 result, reproduced in notebook 05."),
              ("The second model stored fewer facts.", False,
               "Both store all their facts when asked in the form they were written; storage is not the difference."),
              ("The scorer is stricter for the second model.", False,
               "The same scorer and the same test rows are used for both.")),
        _quiz("Quiz 5.3", "Setting A scores 81% and setting B 82% on one run each. Over three seeds, A ranges 77-83% and "
              "B 82-83%. What can you conclude?",
              ("B is better: its mean is higher.", False,
               "A difference smaller than the seed-to-seed spread can flip with the next seed."),
              ("A is better: it reached 83% once.", False,
               "A single best run is the least reliable number of all."),
              ("Nothing either way: the difference is within the spread between seeds; more seeds or larger test sets are "
               "needed to tell them apart.", True,
               "The rule notebook 05 applies: a difference counts only when it exceeds the spread."),
              ("The test must be broken, since the numbers vary.", False,
               "Runs vary with the seed (data order, subset); that is why comparisons use several.")),
    ],
    "06": [
        _quiz("Quiz 6.1", "A team fine-tunes its support model on 50,000 logged chats. Afterwards about 1 in 60 replies is "
              "curt or rude, though the base model never was. What is the most likely cause, and the first fix?",
              ("Some logged replies were rude and SFT imitated them; find and remove them (rules, loss-based flags, "
               "review), then fine-tune again.", True,
               "SFT reproduces its data: in notebook 06 bad training replies became bad replies to new customers, and "
               "filtering cut the rate."),
              ("The learning rate was too high; lower it and train again.", False,
               "A lower learning rate changes how fast the model learns, not what: the data still shows rudeness."),
              ("The model forgot its pre-training; add replay.", False,
               "Replay protects general knowledge (notebook 04); it does not remove rude targets from the SFT data."),
              ("Sampling is to blame; always decode greedily.", False,
               "Greedy decoding hides rare behaviour in tests but users still meet it when you sample; the cause is the data.")),
        _quiz("Quiz 6.2", "A filter flags the 20% of training replies the model finds most surprising. In a new dataset, "
              "every third reply promises a refund the policy does not allow. Will the filter catch them?",
              ("Yes: a forbidden promise is always surprising.", False,
               "Surprise is relative to the data: a pattern in a third of the replies is what the model expects."),
              ("Yes, as long as the cutoff is 20%.", False,
               "The cutoff only sets how many replies are flagged, not which kind of problem the score can see."),
              ("No: frequent patterns are not surprising to a model trained on them; a rule for the promise, or human "
               "review of samples, has to catch them.", True,
               "A loss-based filter finds what is rare. What is common and wrong needs a rule or a reviewer."),
              ("No: loss-based filters only find rude words.", False,
               "It flagged over-promises in notebook 06 too, because they were rare there.")),
        _quiz("Quiz 6.3", "After filtering, the fine-tuned support model replies politely to every test customer. Has SFT "
              "taught it that insults are wrong?",
              ("Yes: it never insults anyone, so it has learned the rule.", False,
               "It imitates polite data. Nothing in SFT told it what not to say."),
              ("No: SFT only imitates its targets; it learned polite replies, not a rule against rude ones. Teaching what "
               "not to say takes negative signal, such as preference tuning and safety data.", True,
               "And a later fine-tune on a few bad examples can undo it (Qi et al., 2023)."),
              ("Yes, because the filtered examples were removed with a rule.", False,
               "The rule shaped the data, not the model's objective."),
              ("No, because the model is too small to learn rules.", False,
               "Size is not the issue: SFT of any size maximises the likelihood of its targets, good or bad.")),
    ],
}


def quiz(notebook: str, number: int) -> Quiz:
    """Quiz `number` (1-based) of a notebook ("00" to "06")."""
    if notebook not in QUIZZES:
        raise ValueError(f"no quizzes for notebook {notebook!r}; choose one of {', '.join(QUIZZES)}")
    quizzes = QUIZZES[notebook]
    if not 1 <= number <= len(quizzes):
        raise ValueError(f"notebook {notebook} has quizzes 1 to {len(quizzes)}, not {number}")
    return quizzes[number - 1]


def show_quiz(notebook: str, number: int) -> None:
    """Show a quiz: a widget where widgets work; elsewhere the question as text, answered with check_quiz."""
    quiz(notebook, number).show(check_hint=f"check_quiz({notebook!r}, {number}, 'your letter')")


def check_quiz(notebook: str, number: int, letter: str) -> None:
    """Without widgets: print whether `letter` is right, and why."""
    quiz(notebook, number).answer(letter)
