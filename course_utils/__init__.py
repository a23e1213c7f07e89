"""Helpers for the SFT workbook: each module carries one idea a notebook taught.

    env       device, seeding, where the data lives
    world     the generated world and the writer of data/
    data      corpora and SFT sets as datasets.Dataset; the prompt template
    encode    prompt + response -> token ids with a response mask; dynamic-padding collate
    loss      the response-masked maximum-likelihood loss (notebook 02's solution)
    train     the SFT training loop
    evaluate  fact probes, perplexity, generation, task scorers
    models    load the base model; save and reload fine-tuned checkpoints
    pretrain  rebuild the tokenizer and the base models from the generated corpus
"""
__version__ = "0.1.0"
