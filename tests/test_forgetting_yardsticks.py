"""Notebook 04's yardsticks: probes split evenly between the half of the world replay may rehearse and the
other half, and every measure reported per half."""
import pytest

from course_utils.forgetting import HALVES, Measurement, Yardsticks, half_of, measure, replayed_people


def test_the_probes_are_half_about_each_half_of_the_world_and_fixed_by_the_seed():
    sticks = Yardsticks.build(n_probes=40, n_support=2, seed=3)
    halves = [half_of(p["subject"]) for p in sticks.probes]
    assert halves.count(HALVES[0]) == 20 and halves.count(HALVES[1]) == 20
    assert all(p["kind"] == "person" for p in sticks.probes)
    assert [p["id"] for p in Yardsticks.build(n_probes=40, n_support=2, seed=3).probes] == [p["id"] for p in sticks.probes]
    assert all((half_of(p["subject"]) == HALVES[0]) == (p["subject"] in replayed_people()) for p in sticks.probes)
    with pytest.raises(ValueError, match="n_probes"):
        Yardsticks.build(n_probes=1)


def test_measure_reports_each_half_and_the_halves_make_the_whole(base):
    model, tok = base
    small = Yardsticks.build(n_probes=12, n_support=2)
    sticks = Yardsticks(small.probes, small.texts[:6], small.support)
    m = measure(model, tok, sticks)
    assert isinstance(m, Measurement) and set(m.halves) == set(HALVES)
    for key in ("facts", "choice"):
        whole = (m.halves[HALVES[0]][key] + m.halves[HALVES[1]][key]) / 2        # equal halves: the mean
        assert getattr(m, key) == pytest.approx(whole)
    assert m.as_dict()["halves"] == m.halves and m.as_dict()["support"] == m.support


def test_a_spread_says_higher_or_lower_only_where_the_ranges_separate():
    from course_utils.forgetting import Spread, spread
    points = [{"facts": v, "halves": {"other half": {"facts": v / 2}}} for v in (0.5, 0.7, 0.6)]
    s = spread(points, "facts")
    assert (s.mean, s.low, s.high, s.n) == (pytest.approx(0.6), 0.5, 0.7, 3)
    assert spread(points, "facts", "other half").high == 0.35
    assert f"{s:.1%}" == "60.0% [50.0-70.0%]"
    assert s.versus(Spread(0.8, 0.71, 0.9, 3)) == "lower" and Spread(0.8, 0.71, 0.9, 3).versus(s) == "higher"
    assert s.versus(Spread(0.8, 0.7, 0.9, 3)) == "not distinguishable"
    with pytest.raises(ValueError, match="missing"):
        spread([{"facts": None}], "facts")
