import io
from dataclasses import replace

import numpy as np
import pytest

from whybox import InputError, Rule
from whybox.plots import rule_card


def texts_of(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def bar(fig, name):
    (bax,) = [a for a in fig.axes if a.get_label() == "bars"]
    (p,) = [p for p in bax.patches if p.get_label() == name]
    assert bax.get_xlim() == (0.0, 1.0)
    return p


@pytest.fixture
def table_rule() -> Rule:
    agree = np.array([[30000, 2, "N"], [12000, 4, "E"], [39000, 2, "E"], [5000, 9, "N"]], dtype=object)
    disagree = np.array([[39999, 2, "N"]], dtype=object)
    return Rule(conditions=(("prior_defaults", ">=", 2), ("income", "<", 40000.0), ("region", "in", ["N", "E"])),
                precision=0.97, coverage=0.12, prediction="deny", feature_names=("income", "prior_defaults", "region"),
                examples_agree=agree, examples_disagree=disagree,
                meta={"model_evals": 12345, "precision_lb": 0.931, "precision_ub": 0.994, "tau": 0.95,
                      "meets_threshold": True})


def test_card_reads_as_the_rule(table_rule):
    fig = rule_card(table_rule)
    fig.savefig(io.BytesIO(), format="png")  # it renders
    texts = texts_of(fig)
    for cond in table_rule.conditions_text():
        assert cond in texts
    assert texts.index("IF") < texts.index("prior_defaults >= 2") < texts.index("income < 40,000")
    assert texts.count("AND") == 2
    assert "THEN" in texts and "deny" in texts
    assert texts.index("region in {N, E}") < texts.index("THEN")
    assert "0.97" in texts and "0.12" in texts
    assert "model evaluations: 12,345  ·  target precision 0.95" in texts
    assert "bounds 0.93 to 0.99" in texts


def test_a_rule_below_its_target_says_so(table_rule):
    rule = replace(table_rule, meta={"tau": 0.95, "meets_threshold": False})
    assert "target precision 0.95 (not reached)" in texts_of(rule_card(rule))


def test_bars_are_as_long_as_precision_and_coverage(table_rule):
    fig = rule_card(table_rule)
    assert bar(fig, "precision").get_width() == pytest.approx(0.97)
    assert bar(fig, "coverage").get_width() == pytest.approx(0.12)
    (bax,) = [a for a in fig.axes if a.get_label() == "bars"]
    tracks = [p for p in bax.patches if p.get_label() == "_track"]
    assert [t.get_width() for t in tracks] == [1.0, 1.0]    # each bar sits on a full 0..1 track
    assert bar(fig, "precision").get_y() == tracks[0].get_y()


def test_examples_are_capped_at_three_with_the_rule_features_first(table_rule):
    texts = texts_of(rule_card(table_rule))
    rows = [t for t in texts if t.startswith("• ")]
    assert len(rows) == 4                                   # 3 agreeing + 1 disagreeing
    assert rows[0] == "• prior_defaults = 2, income = 30000, region = N"
    assert "… and 1 more" in [t.strip() for t in texts]
    assert any("agrees (4 examples)" in t for t in texts)
    assert any("disagrees (1 example)" in t for t in texts)


def test_text_rule_examples_are_truncated_quotes():
    long = "not good at all " * 20
    rule = Rule(conditions=(("w3", "contains", "not"), ("w4", "contains", "good")), precision=1.0, coverage=0.1,
                prediction="negative", examples_agree=[long, "good, not bad"])
    fig = rule_card(rule)
    texts = texts_of(fig)
    assert 'contains "not"' in texts and 'contains "good"' in texts
    rows = [t for t in texts if t.startswith("• ")]
    assert rows[1] == '• "good, not bad"'
    assert rows[0].endswith("…") and len(rows[0]) < 100
    assert bar(fig, "precision").get_width() == pytest.approx(1.0)
    assert not any("model evaluations" in t for t in texts)


def test_empty_rule_and_wrong_input():
    texts = texts_of(rule_card(Rule(conditions=(), precision=0.5, coverage=1.0, prediction=0)))
    assert "IF" in texts and "THEN" in texts and "0" in texts
    with pytest.raises(InputError, match="Rule"):
        rule_card("IF x THEN y")
