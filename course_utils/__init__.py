"""Helpers for the SFT workbook: each module is the twin of what a notebook writes by hand, in layers
that import only downwards (tests/test_layers.py keeps them so).

core
    env            device, seeding, where the data lives; every COURSE_* switch is read here
    loss           the response-masked maximum-likelihood loss (notebook 02), and `response_nll`, the
                   one function that measures -log p of a batch's response tokens
    chat_template  the chat template and the mask of a conversation (notebook 02, section 7)
data
    data           corpora, SFT sets and the world's facts as shipped in data/; the prompt template
    encode         prompt + response -> token ids with a response mask; the one batch format (`collate`)
engine
    models         load the base model; save and reload checkpoints
    train          the SFT loop (notebook 03): `TrainConfig` in, `RunResult` out
    evaluate       generation, fact probes, perplexity, task scores
    scorers        the facts a reply must state, checked against the shipped world
    adapters       LoRA adapters and freezing: which weights SFT may move
experiments        one module per notebook idea: replay, forgetting (04), generalization (05),
                   data_quality (06), trl_bridge (07)
ui                 widgets, quiz (content in quizzes/), chat, checks (one module per notebook)

Everything here reads the shipped data/. The tools that write it (the world generator, pre-training of
the base models) and the course's own plumbing (student copies, the Colab set-up cell) live in `tools/`
at the repository root, outside this package.
"""
__version__ = "0.1.0"
