import json

import numpy as np
import pandas as pd
import pytest

from whybox import Attribution, Rule


def test_rule_holds_on_frames_and_arrays_and_reads_like_a_sentence():
    rule = Rule(conditions=(("prior_defaults", ">=", 2), ("income", "<", 40000.0), ("region", "in", ["N", "E"])),
                precision=0.97, coverage=0.12, prediction="deny", feature_names=("income", "prior_defaults", "region"))
    df = pd.DataFrame({"income": [30000, 50000, 39999, 10000], "prior_defaults": [2, 3, 1, 5],
                       "region": ["N", "N", "E", "S"]})
    expected = (df.prior_defaults >= 2) & (df.income < 40000) & df.region.isin(["N", "E"])
    assert rule.holds(df).tolist() == expected.tolist()
    assert rule.holds(df[["income", "prior_defaults", "region"]].to_numpy(dtype=object)).tolist() == expected.tolist()
    assert rule.to_text() == ("IF prior_defaults >= 2 AND income < 40,000 AND region in {N, E} THEN deny "
                              "(precision 0.97, coverage 0.12)")
    back = Rule.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert back.conditions == rule.conditions and back.holds(df).tolist() == expected.tolist()
    with pytest.raises(KeyError, match="age"):
        Rule(conditions=(("age", ">", 3),), precision=1, coverage=1).holds(df)


def test_text_rule_checks_whole_words():
    rule = Rule(conditions=(("w3", "contains", "not"), ("w4", "contains", "good")), precision=1.0, coverage=0.1)
    assert rule.holds(["not good at all", "good, not bad", "nothing good", "not great"]).tolist() == [
        True, True, False, False]
    assert rule.to_text().startswith('IF contains "not" AND contains "good"')


def test_padded_text_batch_gives_back_each_row_with_its_tokens():
    tokens = np.array([["good", "film", ""], ["not", "good", "film"]], dtype=object)
    mask = tokens != ""
    values = np.array([[1.0, 0.5, 0.0], [-2.0, 1.0, 0.25]])
    attr = Attribution(values=values, base_values=np.zeros(2), data=tokens, mask=mask)
    row = attr[0]
    assert row.feature_names == ("good", "film") and row.values.tolist() == [1.0, 0.5]
    assert attr[1]["not"].values == -2.0
    assert attr[[1]].mask.tolist() == [[True, True, True]]
    back = Attribution.from_dict(json.loads(json.dumps(attr.to_dict())))
    assert back[0].feature_names == ("good", "film")
    with pytest.raises(ValueError, match="mask"):
        Attribution(values=values, base_values=np.zeros(2), mask=mask[:, :2])


def test_empty_rule_holds_on_every_text_and_row():
    empty = Rule(conditions=(), precision=1.0, coverage=1.0)
    assert empty.holds(["a text", "another"]).tolist() == [True, True]
    assert empty.holds(pd.DataFrame({"a": [1, 2, 3]})).tolist() == [True, True, True]


def test_thresholds_print_on_the_right_side_of_themselves():
    rule = Rule(conditions=(("income", "<", 39999.5), ("debt", ">", 0.356123)), precision=1, coverage=1)
    assert rule.conditions_text() == ["income < 39,999.5", "debt > 0.356123"]
