"""The shipped base models: offline loading, the fact-probe target, saving never touches data/."""
import pytest
import torch

from course_utils import models
from course_utils.env import data_dir
from course_utils.evaluate import fact_probe_accuracy, generate, load_probes, perplexity


def test_default_base_model_loads_offline_and_knows_the_world(base, capsys):
    model, tok = base
    assert type(model).__name__ == "GPT2LMHeadModel"
    result = fact_probe_accuracy(model, tok)
    with capsys.disabled():
        print(f"\n[gpt2-tiny] fact-probe accuracy {result['accuracy']:.1%} on {result['n']} probes "
              f"{ {a: round(v, 3) for a, v in result['by_attribute'].items()} }")
    assert result["n"] == len(load_probes())
    assert result["accuracy"] >= 0.95, f"base model fact-probe accuracy {result['accuracy']:.1%} < 95%"


def test_base_model_writes_fluent_world_prose(base):
    model, tok = base
    text = generate(model, tok, ["Veralon is"], max_new_tokens=30)[0]
    assert len(text.split()) >= 5 and "." in text, text
    assert perplexity(model, tok) < 8.0


def test_untrained_model_fails_the_probes(tiny_model, tokenizer):
    # The probe test above can fail: a model that never saw the world scores near zero.
    assert fact_probe_accuracy(tiny_model, tokenizer, load_probes()[:100])["accuracy"] < 0.05


def test_single_bio_twin_stores_its_facts_inside_its_biographies():
    from course_utils.generalization import in_biography_probes
    model, tok = models.load_base("gpt2-tiny-single", device="cpu")
    assert model.config.n_layer == models.load_base("gpt2-tiny", device="cpu")[0].config.n_layer
    probes = in_biography_probes()
    result = fact_probe_accuracy(model, tok, probes[::3])
    assert result["accuracy"] >= 0.95, f"gpt2-tiny-single completes only {result['accuracy']:.1%} of its biographies"


def test_full_name_twin_stores_its_facts_inside_its_biographies():
    from course_utils.generalization import in_biography_probes
    model, tok = models.load_base("gpt2-tiny-single-fullname", device="cpu")
    result = fact_probe_accuracy(model, tok, in_biography_probes(full_name=True)[::3])
    assert result["accuracy"] >= 0.95, f"gpt2-tiny-single-fullname completes only {result['accuracy']:.1%} of its biographies"


def test_hub_model_offline_gives_a_clear_message():
    with pytest.raises(RuntimeError, match="load_base\\('gpt2-tiny'\\)"):
        models.load_base("course-test/definitely-not-cached-model", device="cpu")


def test_save_refuses_data_folder_and_reload_is_identical(base, tmp_path):
    model, tok = base
    with pytest.raises(ValueError, match="refusing to save"):
        models.save_model(model, tok, data_dir() / "models" / "overwritten")
    path = models.save_model(model, tok, tmp_path / "copy")
    again, tok2 = models.load_model(path, device="cpu")
    ids = torch.tensor([tok("Veralon is a city in")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, again(ids).logits)
    assert tok2("Veralon")["input_ids"] == tok("Veralon")["input_ids"]
    assert (path / "model.safetensors").exists()


def test_course_model_env_picks_the_default(monkeypatch):
    monkeypatch.setenv("COURSE_MODEL", "gpt2-tiny-single")
    assert models.default_model_name() == "gpt2-tiny-single"
    monkeypatch.delenv("COURSE_MODEL")
    assert models.default_model_name() == "gpt2-tiny"
