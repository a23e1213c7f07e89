"""The multiple-choice knowledge probe: the true value ranked first among every value of its attribute."""
import random

import pytest
import torch

from course_utils.evaluate import choice_accuracy, choice_chance, fact_probe_accuracy, load_probes
from course_utils.models import load_base


def test_the_base_model_picks_the_true_value_and_scrambled_weights_do_not():
    model, tok = load_base("gpt2-tiny")
    probes = random.Random(0).sample(load_probes(), 40)
    known = choice_accuracy(model, tok, probes)
    assert known["accuracy"] >= 0.9 and known["n"] == 40 and len(known["chosen"]) == 40
    assert known["accuracy"] >= fact_probe_accuracy(model, tok, probes)["accuracy"] - 0.05
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():                      # the same numbers in other places: no knowledge left
        for p in model.parameters():
            p.copy_(p.flatten()[torch.randperm(p.numel(), generator=generator)].view_as(p))
    scrambled = choice_accuracy(model, tok, probes)
    assert scrambled["accuracy"] <= 0.4
    assert all(chosen != "" for chosen in scrambled["chosen"])


def test_chance_is_one_over_the_number_of_values_of_each_attribute():
    years = [p for p in load_probes() if p["attribute"] == "birth_year"][:5]
    cities = [p for p in load_probes() if p["attribute"] == "birth_city"][:5]
    n_years = len({p["answer"] for p in load_probes() if p["attribute"] == "birth_year"})
    n_cities = len({p["answer"] for p in load_probes() if p["attribute"] == "birth_city"})
    assert choice_chance(years) == pytest.approx(1 / n_years)
    assert choice_chance(years + cities) == pytest.approx((1 / n_years + 1 / n_cities) / 2)


def test_no_probes_is_an_error_not_a_division_by_zero(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="probes"):
        choice_accuracy(tiny_model, tokenizer, [])
