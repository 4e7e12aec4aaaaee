import math

import numpy as np
import pytest

from whybox.surrogates._kl_lucb import kl_bernoulli, kl_lower_bound, kl_lucb, kl_upper_bound


def _kl(p, q):
    """Bernoulli KL written out with math.log, independent of the module's vectorised version."""
    out = 0.0
    if p > 0:
        out += p * math.log(p / q)
    if p < 1:
        out += (1 - p) * math.log((1 - p) / (1 - q))
    return out


def test_kl_bernoulli_matches_the_formula_and_its_edge_cases():
    for p in (0.0, 0.1, 0.5, 0.93, 1.0):
        for q in (0.05, 0.4, 0.9):
            assert kl_bernoulli(p, q) == pytest.approx(_kl(p, q), rel=1e-12)
    assert kl_bernoulli(0.3, 0.3) == pytest.approx(0.0, abs=1e-15)
    assert kl_bernoulli(1.0, 0.8) == pytest.approx(-math.log(0.8), rel=1e-12)
    assert kl_bernoulli(0.0, 0.8) == pytest.approx(-math.log(0.2), rel=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.02, 0.3, 0.5, 0.88, 0.97, 1.0])
@pytest.mark.parametrize("level", [1e-3, 0.05, 0.6])
def test_bounds_bracket_the_mean_and_solve_the_kl_equation(p, level):
    ub = float(kl_upper_bound(p, level))
    lb = float(kl_lower_bound(p, level))
    assert 0.0 <= lb <= p <= ub <= 1.0
    # an interior bound is the point where N * kl(p, q) reaches beta, i.e. kl(p, q) == level
    if ub < 1.0:
        assert _kl(p, ub) == pytest.approx(level, rel=1e-6)
    else:
        assert _kl(p, 1 - 1e-12) <= level or p == 1.0
    if lb > 0.0:
        assert _kl(p, lb) == pytest.approx(level, rel=1e-6)
    else:
        assert p == 0.0 or _kl(p, 1e-12) <= level
    # a larger level (fewer samples) gives a wider interval
    assert kl_upper_bound(p, 2 * level) >= ub and kl_lower_bound(p, 2 * level) <= lb


def test_bounds_are_vectorised():
    p = np.array([0.1, 0.5, 0.9])
    lv = np.array([0.01, 0.02, 0.03])
    ub = kl_upper_bound(p, lv)
    assert ub.shape == (3,)
    assert [float(kl_upper_bound(a, b)) for a, b in zip(p, lv)] == pytest.approx(ub.tolist())


def _bandit(means, seed):
    rng = np.random.default_rng(seed)
    pulls = np.zeros(len(means), dtype=int)

    def pull(arms, counts):
        pulls[arms] += counts
        return np.array([rng.binomial(int(c), means[a]) for a, c in zip(arms, counts)])

    return pull, pulls


def test_lucb_returns_the_true_best_arms_with_the_promised_confidence():
    means = np.array([0.1, 0.3, 0.5, 0.62, 0.8, 0.9])
    delta, runs, correct = 0.1, 20, 0
    for seed in range(runs):
        pull, pulls = _bandit(means, seed)
        res = kl_lucb(pull, np.zeros(6), np.zeros(6), 2, delta=delta, epsilon=0.05, batch_size=20)
        correct += set(res.chosen.tolist()) == {4, 5}
        assert res.samples.tolist() == pulls.tolist()
        # LUCB spends its pulls on the arms near the boundary, not on the clearly bad ones
        assert pulls[0] < pulls[3]
    assert correct >= runs * (1 - delta)


def test_lucb_is_epsilon_optimal_when_arms_are_close():
    means = np.array([0.45, 0.7, 0.74, 0.76])
    for seed in range(10):
        pull, _ = _bandit(means, seed)
        res = kl_lucb(pull, np.zeros(4), np.zeros(4), 1, delta=0.1, epsilon=0.1, batch_size=20)
        assert means[res.chosen[0]] >= means.max() - 0.1


def test_lucb_with_no_more_arms_than_wanted_pulls_nothing():
    def pull(arms, counts):
        raise AssertionError("no pull needed")

    res = kl_lucb(pull, np.array([3.0, 9.0]), np.array([10.0, 10.0]), 2, delta=0.1, epsilon=0.1)
    assert res.chosen.tolist() == [1, 0] and res.rounds == 0
