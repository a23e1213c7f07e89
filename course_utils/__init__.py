"""Helpers for the SFT workbook: each module carries one idea a notebook taught.

    env       device, seeding, where the data lives
    data      corpora, SFT sets and the world's facts as shipped in data/; the prompt template
    encode    prompt + response -> token ids with a response mask; dynamic-padding collate
    loss      the response-masked maximum-likelihood loss (notebook 02's solution)
    train     the SFT training loop
    evaluate  fact probes, perplexity, generation, task scores
    scorers   the task scorers: the facts a reply must state, checked against the shipped world
    models    load the base model; save and reload fine-tuned checkpoints

Everything here reads the shipped data/. The tools that write it (the world generator, pre-training of
the base models) and the course's own plumbing (student copies, the Colab set-up cell) live in `tools/`
at the repository root, outside this package.
"""
__version__ = "0.1.0"
