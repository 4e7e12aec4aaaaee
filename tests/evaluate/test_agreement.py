"""Agreement between attributions: identical ones agree fully, a reversed ranking disagrees fully."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from whybox.errors import InputError
from whybox.evaluate import agreement, agreement_matrix
from whybox.results import Attribution


def attr(values, method="m"):
    values = np.asarray(values, dtype=float)
    return Attribution(values, np.zeros(values.shape[0]), feature_names=[f"f{i}" for i in range(values.shape[1])],
                       method=method)


@pytest.fixture(scope="module")
def values():
    return np.random.default_rng(0).normal(size=(6, 8))


def test_identical_attributions_agree_fully(values):
    r = agreement(attr(values), attr(values), top_k=3)
    assert np.allclose(r.rank_correlation, 1.0) and np.allclose(r.top_k_jaccard, 1.0)
    assert np.allclose(r.sign_agreement, 1.0)


def test_reversed_ranking_gives_minus_one():
    a = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    b = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    r = agreement(a, b, top_k=2)
    assert np.allclose(r.rank_correlation, -1.0)
    assert np.allclose(r.top_k_jaccard, 0.0) and np.isnan(r.sign_agreement[0])
    # signed ranking: negating reverses the order of the signed values
    s = agreement(a, -a, signed=True, top_k=2)
    assert np.allclose(s.rank_correlation, -1.0)
    assert np.allclose(s.top_k_jaccard, 1.0) and np.allclose(s.sign_agreement, 0.0)
    assert np.allclose(agreement(a, -a, top_k=2).rank_correlation, 1.0)   # same |values|


def test_matches_scipy_and_a_hand_count(values):
    other = values + np.random.default_rng(1).normal(scale=0.8, size=values.shape)
    r = agreement(values, other, top_k=3)
    for i in range(values.shape[0]):
        assert np.isclose(r.rank_correlation[i], spearmanr(np.abs(values[i]), np.abs(other[i]))[0])
        ta = set(np.argsort(-np.abs(values[i]))[:3])
        tb = set(np.argsort(-np.abs(other[i]))[:3])
        assert np.isclose(r.top_k_jaccard[i], len(ta & tb) / len(ta | tb))


def test_matrix_is_symmetric_with_ones_on_the_diagonal(values):
    rng = np.random.default_rng(2)
    methods = {"a": attr(values), "b": attr(values + rng.normal(scale=0.5, size=values.shape)),
               "c": attr(rng.normal(size=values.shape)), "rev": attr(-values)}
    m = agreement_matrix(methods, top_k=3)
    assert m.names == ("a", "b", "c", "rev")
    for mat in (m.rank_correlation, m.top_k_jaccard, m.sign_agreement):
        assert mat.shape == (4, 4) and np.allclose(mat, mat.T) and np.allclose(np.diag(mat), 1.0)
    assert m.rank_correlation[0, 1] > m.rank_correlation[0, 2]
    assert m.rank_correlation[0, 3] == pytest.approx(1.0) and m.sign_agreement[0, 3] == pytest.approx(0.0)
    assert list(m.to_frame().columns) == ["a", "b", "c", "rev"]


def test_padded_texts_compare_only_real_tokens():
    v = np.array([[0.3, 0.1, 0.2, 0.0], [0.5, 0.4, 0.0, 0.0]])
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    a = Attribution(v, np.zeros(2), mask=mask)
    b = Attribution(v[:, ::-1].copy() * mask, np.zeros(2), mask=mask)
    r = agreement(a, a, top_k=5)
    assert np.allclose(r.top_k_jaccard, 1.0) and np.allclose(r.rank_correlation, 1.0)
    assert agreement(a, b).meta["rows"] == 2


def test_errors(values):
    with pytest.raises(InputError, match="shapes"):
        agreement(values, values[:, :3])
    with pytest.raises(InputError, match="top_k"):
        agreement(values, values, top_k=0)
    with pytest.raises(InputError, match="at least two"):
        agreement_matrix({"a": values})
    multi = Attribution(np.zeros((2, 3, 2)), np.zeros((2, 2)), has_outputs=True)
    with pytest.raises(InputError, match="output="):
        agreement(multi, multi)
    assert np.allclose(agreement(multi, multi, output=1).top_k_jaccard, 1.0)


def test_results_round_trip_through_json(values):
    import json

    from whybox.evaluate import AgreementMatrix, AgreementResult

    r = agreement(values, np.ones_like(values), top_k=2)     # constant rows: NaN correlations
    assert np.isnan(r.rank_correlation).all()
    back = AgreementResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert np.array_equal(back.rank_correlation, r.rank_correlation, equal_nan=True)
    assert np.array_equal(back.sign_agreement, r.sign_agreement, equal_nan=True)
    m = agreement_matrix({"a": values, "b": -values})
    mb = AgreementMatrix.from_dict(json.loads(json.dumps(m.to_dict())))
    assert mb.names == m.names and np.allclose(mb.rank_correlation, m.rank_correlation)
