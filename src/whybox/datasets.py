"""Small data sets: a synthetic credit table with a known truth, and two tables scikit-learn ships.

`credit()` draws loan applications from a documented generating process. The
approval log-odds are a known function of the columns (`CREDIT_FORMULA`), with
exactly one interaction (income x debt), one pure-noise column and one proxy
column (postcode_region) that carries a protected attribute which is *not* in X.
Because the truth is known, tests and tutorials can check an explanation
against it: fit a model to `data.y` (or use `data.true_logit` itself as the
model) and compare the attributions with `data.true_terms(X)`.

`breast_cancer()` and `diabetes()` read the copies bundled with scikit-learn;
nothing is downloaded. `shortcut_images()` plants a corner marker that agrees with the class in
training only (the shortcut case for image explainers); `reviews()` generates short reviews whose
label follows planted sentiment words and a "not" negation (`reviews_truth` recomputes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["CreditData", "credit", "credit_logit", "credit_terms", "CREDIT_FORMULA", "breast_cancer", "diabetes"]

# --------------------------------------------------------------------------- the truth

#: intercept of the approval log-odds (the approval rate comes out near 58 %)
INTERCEPT = 0.0
#: reference points the numeric terms are centred on
INCOME_REF = 50.0   # thousands
DEBT_REF = 0.30     # debt-to-income ratio

#: linear coefficients of the numeric terms (income's applies to log(income / 50))
COEF = {
    "income": 1.8,            # per unit of log(income / 50): doubling income adds 1.8 * ln 2 = 1.25
    "debt": -4.0,             # per unit of debt-to-income ratio (above 0.30)
    "prior_defaults": -1.1,   # per prior default
    "credit_age": 0.03,       # per year of credit history (above 10)
    "employment_years": 0.06,  # per year employed (above 5)
    "noise": 0.0,             # pure noise: no effect at all
}
#: the one interaction: + INTERACTION * log(income / 50) * (debt - 0.30) — debt hurts less at higher income
INTERACTION = 2.5
INTERACTION_PAIR = ("income", "debt")

HOUSING = {"rent": 0.0, "mortgage": 0.2, "own": 0.4}
LOAN_PURPOSE = {"car": 0.2, "home": 0.3, "education": 0.0, "business": -0.5, "other": -0.3}
REGIONS = ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8")
#: small direct effect of the postcode region (its real role is as a proxy of the protected attribute)
REGION = {"R1": -0.2, "R2": -0.1, "R3": 0.0, "R4": 0.0, "R5": 0.0, "R6": 0.0, "R7": 0.0, "R8": 0.1}

#: P(region | protected = 1) and P(region | protected = 0): the protected group lives mostly in R1-R3
REGION_GIVEN_PROTECTED = (0.35, 0.30, 0.20, 0.05, 0.04, 0.03, 0.02, 0.01)
REGION_GIVEN_OTHER = (0.04, 0.05, 0.06, 0.17, 0.17, 0.17, 0.17, 0.17)
PROTECTED_SHARE = 0.3

CREDIT_COLUMNS = ("income", "debt", "prior_defaults", "credit_age", "employment_years", "housing",
                  "loan_purpose", "postcode_region", "noise")

CREDIT_FORMULA = (
    "logit = 0.0"
    " + 1.8 * log(income / 50)"
    " - 4.0 * (debt - 0.30)"
    " + 2.5 * log(income / 50) * (debt - 0.30)"
    " - 1.1 * prior_defaults"
    " + 0.03 * (credit_age - 10)"
    " + 0.06 * (employment_years - 5)"
    " + housing[rent 0, mortgage +0.2, own +0.4]"
    " + loan_purpose[car +0.2, home +0.3, education 0, business -0.5, other -0.3]"
    " + postcode_region[R1 -0.2, R2 -0.1, R8 +0.1, others 0]"
    " + 0 * noise"
)

#: features with a real effect, strongest first (by mean |interventional Shapley value| of the truth
#: over the data; tests/test_datasets.py checks this order)
CREDIT_DRIVERS = ("income", "prior_defaults", "debt", "credit_age", "loan_purpose", "employment_years",
                  "housing", "postcode_region")


def _categorical_values(X: pd.DataFrame, column: str, table: Mapping[str, float]) -> np.ndarray:
    values = X[column].astype(object).astype(str).to_numpy()
    unknown = sorted(set(values) - set(table))
    if unknown:
        raise ValueError(f"unknown {column} value(s) {unknown[:5]}; the credit truth knows {list(table)}")
    return np.array([table[v] for v in values], dtype=float)


def _numeric(X: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(X[column]).to_numpy(dtype=float)


def credit_terms(X: pd.DataFrame) -> pd.DataFrame:
    """The additive pieces of the true log-odds, one column per feature plus "income:debt" and "intercept".

    Numeric terms are centred on the reference points of the formula, so a feature
    at its reference contributes 0. The row sums equal `credit_logit(X)`.
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError("credit_terms needs a DataFrame with the credit columns")
    missing = [c for c in CREDIT_COLUMNS if c not in X.columns]
    if missing:
        raise KeyError(f"X lacks the credit column(s) {missing}")
    income = _numeric(X, "income")
    if (income <= 0).any():
        raise ValueError("income must be positive (thousands)")
    log_income = np.log(income / INCOME_REF)
    debt = _numeric(X, "debt") - DEBT_REF
    terms = {
        "income": COEF["income"] * log_income,
        "debt": COEF["debt"] * debt,
        "prior_defaults": COEF["prior_defaults"] * _numeric(X, "prior_defaults"),
        "credit_age": COEF["credit_age"] * (_numeric(X, "credit_age") - 10.0),
        "employment_years": COEF["employment_years"] * (_numeric(X, "employment_years") - 5.0),
        "housing": _categorical_values(X, "housing", HOUSING),
        "loan_purpose": _categorical_values(X, "loan_purpose", LOAN_PURPOSE),
        "postcode_region": _categorical_values(X, "postcode_region", REGION),
        "noise": COEF["noise"] * _numeric(X, "noise"),
        "income:debt": INTERACTION * log_income * debt,
        "intercept": np.full(len(X), INTERCEPT),
    }
    return pd.DataFrame(terms, index=X.index)


def credit_logit(X: pd.DataFrame) -> np.ndarray:
    """The true approval log-odds of each row of X (a DataFrame with the credit columns)."""
    return credit_terms(X).to_numpy().sum(axis=1)


# --------------------------------------------------------------------------- the data

@dataclass(frozen=True, eq=False)
class CreditData:
    """A synthetic loan-approval table with a known truth.

    X             DataFrame, columns (dtype):
                    income            float64   yearly income in thousands (lognormal, median ~55)
                    debt              float64   debt-to-income ratio (0..1, mean ~0.3)
                    prior_defaults    int64     number of earlier defaults, 0..4
                    credit_age        float64   years since the first credit line
                    employment_years  float64   years with the current employer
                    housing           category  rent / own / mortgage
                    loan_purpose      category  car / home / education / business / other
                    postcode_region   category  R1..R8; a proxy of `protected` (R1-R3 hold most of the group)
                    noise             float64   standard normal, no effect on the outcome
    y             int64 array, 1 = approved, drawn as Bernoulli(sigmoid(logit))
    logit         the true approval log-odds of each row
    protected     int64 array, 1 = member of a protected group. NOT in X, and no direct effect on the
                  outcome; it shapes only where people live (postcode_region), whose own direct effect
                  is small (at most 0.2 log-odds). A model can still treat the group differently
                  through the region — that is what a proxy audit should find.
    true_effects  feature -> its effect in the truth: a coefficient (float) for numeric features
                  (income's applies to log(income / 50)), a {category: log-odds} dict for categorical
                  ones; noise maps to 0.0
    drivers       features with a real effect, strongest first
    interaction   the one interacting pair, ("income", "debt")
    formula       the truth written out
    seed          the seed the data was drawn with
    """

    X: pd.DataFrame
    y: np.ndarray
    logit: np.ndarray
    protected: np.ndarray
    true_effects: dict[str, Any] = field(default_factory=dict)
    drivers: tuple[str, ...] = CREDIT_DRIVERS
    interaction: tuple[str, str] = INTERACTION_PAIR
    formula: str = CREDIT_FORMULA
    seed: int = 0

    def true_logit(self, X: pd.DataFrame | None = None) -> np.ndarray:
        """The ground-truth log-odds for any DataFrame with the credit columns (default: this X)."""
        return credit_logit(self.X if X is None else X)

    def true_proba(self, X: pd.DataFrame | None = None) -> np.ndarray:
        """The ground-truth approval probability."""
        return 1.0 / (1.0 + np.exp(-self.true_logit(X)))

    def true_terms(self, X: pd.DataFrame | None = None) -> pd.DataFrame:
        """The additive pieces of the true log-odds (see `credit_terms`)."""
        return credit_terms(self.X if X is None else X)

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        return (f"CreditData(n={len(self.X)}, seed={self.seed}, approval_rate={self.y.mean():.3f}, "
                f"drivers={self.drivers}, interaction={self.interaction})")


def _true_effects() -> dict[str, Any]:
    effects: dict[str, Any] = {name: COEF[name] for name in ("income", "debt", "prior_defaults", "credit_age",
                                                             "employment_years")}
    effects["housing"] = dict(HOUSING)
    effects["loan_purpose"] = dict(LOAN_PURPOSE)
    effects["postcode_region"] = dict(REGION)
    effects["noise"] = COEF["noise"]
    return effects


def credit(n: int = 2000, seed: int = 0) -> CreditData:
    """Draw `n` synthetic loan applications; the same seed gives identical data.

    The generating process (a hidden age drives credit age, employment and housing,
    so those columns are mildly correlated, as in real data):

      age              ~ Uniform(21, 70)                       (hidden)
      income           = exp(N(ln 52 + 0.012 (age - 40), 0.45)) thousands, clipped to 8..600
      debt             ~ Beta(2.2, 5)                          debt-to-income ratio
      prior_defaults   ~ Poisson(0.3, or 0.6 when debt > 0.4), at most 4
      credit_age       = max(0, age - 18 - Exponential(4))
      employment_years = min(age - 18, Gamma(2, 3.5))
      housing          rent / mortgage / own, owning more likely with age
      loan_purpose     car .3, home .2, education .15, business .15, other .2
      protected        ~ Bernoulli(0.3)                        (hidden, not in X)
      postcode_region  R1..R8 drawn given protected (the group mostly in R1-R3)
      noise            ~ N(0, 1)
      y                ~ Bernoulli(sigmoid(logit)), logit = CREDIT_FORMULA

    Numeric columns are rounded (income and the year counts to 0.1, debt to 0.001,
    noise to 0.001) before the truth is evaluated, so `true_logit(X)` reproduces
    `logit` exactly.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be a positive number of rows, got {n}")
    rng = np.random.default_rng(seed)
    age = rng.uniform(21, 70, n)
    income = np.clip(np.exp(rng.normal(np.log(52.0) + 0.012 * (age - 40), 0.45)), 8, 600).round(1)
    debt = rng.beta(2.2, 5.0, n).round(3)
    prior_defaults = np.minimum(rng.poisson(np.where(debt > 0.4, 0.6, 0.3)), 4).astype(np.int64)
    credit_age = np.maximum(0.0, age - 18 - rng.exponential(4.0, n)).round(1)
    employment_years = np.minimum(age - 18, rng.gamma(2.0, 3.5, n)).round(1)
    t = (age - 21) / 49
    p_housing = np.stack([0.55 - 0.4 * t, 0.35 + 0.05 * t, 0.10 + 0.35 * t], axis=1)  # rent, mortgage, own
    housing_idx = (rng.uniform(size=(n, 1)) > np.cumsum(p_housing, axis=1)).sum(axis=1)
    housing = np.array(["rent", "mortgage", "own"])[np.minimum(housing_idx, 2)]
    purposes = list(LOAN_PURPOSE)
    loan_purpose = rng.choice(purposes, size=n, p=[0.3, 0.2, 0.15, 0.15, 0.2])
    protected = (rng.uniform(size=n) < PROTECTED_SHARE).astype(np.int64)
    region_idx = np.where(protected == 1,
                          rng.choice(len(REGIONS), size=n, p=REGION_GIVEN_PROTECTED),
                          rng.choice(len(REGIONS), size=n, p=REGION_GIVEN_OTHER))
    region = np.asarray(REGIONS)[region_idx]
    noise = rng.normal(size=n).round(3)

    X = pd.DataFrame({
        "income": income.astype(np.float64),
        "debt": debt.astype(np.float64),
        "prior_defaults": prior_defaults,
        "credit_age": credit_age.astype(np.float64),
        "employment_years": employment_years.astype(np.float64),
        "housing": pd.Categorical(housing, categories=list(HOUSING)),
        "loan_purpose": pd.Categorical(loan_purpose, categories=purposes),
        "postcode_region": pd.Categorical(region, categories=list(REGIONS)),
        "noise": noise.astype(np.float64),
    })
    logit = credit_logit(X)
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return CreditData(X=X, y=y, logit=logit, protected=protected, true_effects=_true_effects(), seed=int(seed))


# --------------------------------------------------------------------------- scikit-learn's tables

def breast_cancer() -> tuple[pd.DataFrame, np.ndarray]:
    """Wisconsin breast-cancer table shipped with scikit-learn: 569 rows, 30 numeric features.

    y is 1 for benign, 0 for malignant (scikit-learn's coding).
    """
    from sklearn.datasets import load_breast_cancer
    bunch = load_breast_cancer(as_frame=True)
    return bunch.data.copy(), bunch.target.to_numpy().astype(np.int64)


def diabetes(scaled: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Diabetes progression table shipped with scikit-learn: 442 rows, 10 features, y a disease score.

    With scaled=False (default) the features keep their original units (age in years,
    sex as 1/2, bmi, blood pressure, six serum measurements); scaled=True gives
    scikit-learn's mean-centred, unit-norm columns.
    """
    from sklearn.datasets import load_diabetes
    bunch = load_diabetes(as_frame=True, scaled=scaled)
    return bunch.data.copy(), bunch.target.to_numpy().astype(np.float64)


# --------------------------------------------------------------------------- the shortcut images

#: class names of `shortcut_images`: y = 0 is a circle, y = 1 a square
SHORTCUT_CLASSES = ("circle", "square")


@dataclass(frozen=True, eq=False)
class ShortcutImages:
    """Images whose class is a shape, with a corner marker that may stand in for the class.

    X             (n, 3, size, size) float32 in [0, 1], channels first (the layout PyTorch takes)
    y             (n,) int64: 0 = circle, 1 = square (`class_names`)
    marker        (n,) bool: the marker (`marker_pattern`, a white X on black) is drawn in the corner box
    marker_box    (y0, y1, x0, x1): the marker's fixed box, rows y0:y1 and columns x0:x1
    masks         (n, size, size) bool: where the shape is
    split         "train" or "test"
    marker_agreement  P(marker | square) = P(no marker | circle) in the training split
    """

    X: np.ndarray
    y: np.ndarray
    marker: np.ndarray
    marker_box: tuple[int, int, int, int]
    masks: np.ndarray
    split: str
    marker_agreement: float
    seed: int
    class_names: tuple[str, str] = SHORTCUT_CLASSES

    @property
    def box_mask(self) -> np.ndarray:
        """(size, size) bool: True inside `marker_box`."""
        size = self.X.shape[-1]
        y0, y1, x0, x1 = self.marker_box
        m = np.zeros((size, size), dtype=bool)
        m[y0:y1, x0:x1] = True
        return m


def marker_pattern(side: int) -> np.ndarray:
    """(side, side) float: the shortcut marker, a white X (the box's two diagonals) on black.

    A pattern no shape has (the shapes are flat-coloured discs and squares, the background dark and
    nearly flat), so a model that reads the marker reads it with detectors of its own."""
    i = np.arange(int(side))
    return ((i[:, None] == i[None, :]) | (i[:, None] + i[None, :] == int(side) - 1)).astype(np.float64)


def shortcut_images(n: int = 1000, seed: int = 0, split: str = "train", marker_agreement: float = 0.95,
                    size: int = 32) -> ShortcutImages:
    """Circles (y = 0) and squares (y = 1) with a planted shortcut: a marker in the top-left corner.

    The marker is a white X on black (`marker_pattern`) filling a size/4 x size/4 box one pixel in from
    the corner (8 x 8 pixels of a 32 x 32 image, 6.25 %). Each image has a dark background of one
    random colour with faint pixel noise (sd 0.01) and one flat shape of random colour, position and size;
    circles and squares of one draw have the same area, so only the outline tells them apart.
    In the "train" split the marker is drawn on a square with probability `marker_agreement` and
    on a circle with probability 1 - marker_agreement, so a model can read the class off the
    corner; in the "test" split it is drawn on a random half of the images, whatever the class.
    A model that learned the marker instead of the shape scores high on train and near chance on
    test. `marker_agreement=0.5` makes the marker carry no information (a control model).

    Arguments:
      n                 number of images (the classes alternate, then are shuffled: n // 2 squares)
      seed              same seed and split, same images; the two splits of one seed differ
      split             "train" (marker agrees with the class) or "test" (marker at random)
      marker_agreement  the marker/class agreement of the training split, in [0, 1]
      size              image side in pixels (at least 16)
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not 0.0 <= float(marker_agreement) <= 1.0:
        raise ValueError(f"marker_agreement is a probability in [0, 1], got {marker_agreement!r}")
    if int(size) < 16:
        raise ValueError(f"size must be at least 16 pixels for the shapes to be told apart, got {size!r}")
    if int(n) < 1:
        raise ValueError(f"n must be a positive number of images, got {n!r}")
    n, size = int(n), int(size)
    rng = np.random.default_rng([int(seed), 0 if split == "train" else 1])
    y = rng.permutation(np.arange(n) % 2).astype(np.int64)
    if split == "train":
        p = np.where(y == 1, float(marker_agreement), 1.0 - float(marker_agreement))
    else:
        p = np.full(n, 0.5)
    marker = rng.uniform(size=n) < p

    side = max(3, round(size / 4))
    box = (1, 1 + side, 1, 1 + side)
    # the shapes: radius r (the square gets the circle's area), centre clear of the marker box
    r = rng.uniform(size / 8.0, size / 4.0, size=n)
    cy, cx = np.empty(n), np.empty(n)
    todo = np.arange(n)
    while todo.size:
        lo, hi = r[todo] + 1.0, size - 1.0 - r[todo]
        cy[todo] = rng.uniform(lo, hi)
        cx[todo] = rng.uniform(lo, hi)
        clear = (cy[todo] - r[todo] > box[1] + 1) | (cx[todo] - r[todo] > box[3] + 1)
        todo = todo[~clear]
    yy = np.arange(size)[None, :, None] + 0.5
    xx = np.arange(size)[None, None, :] + 0.5
    dy, dx = yy - cy[:, None, None], xx - cx[:, None, None]
    half = (r * np.sqrt(np.pi) / 2.0)[:, None, None]
    circle = dy ** 2 + dx ** 2 <= (r ** 2)[:, None, None]
    square = (np.abs(dy) <= half) & (np.abs(dx) <= half)
    masks = np.where((y == 1)[:, None, None], square, circle)

    background = rng.uniform(0.0, 0.35, size=(n, 3, 1, 1))
    colour = rng.uniform(0.45, 1.0, size=(n, 3, 1, 1))
    X = background + rng.normal(0.0, 0.01, size=(n, 3, size, size))
    X = np.where(masks[:, None], colour, X)
    X[marker, :, box[0]:box[1], box[2]:box[3]] = marker_pattern(side)
    X = np.clip(X, 0.0, 1.0).astype(np.float32)
    return ShortcutImages(X=X, y=y, marker=marker, marker_box=box, masks=masks, split=split,
                          marker_agreement=float(marker_agreement), seed=int(seed))


__all__ += ["ShortcutImages", "shortcut_images", "marker_pattern", "SHORTCUT_CLASSES"]


# --------------------------------------------------------------------------- the generated reviews

import re as _re  # noqa: E402

from .results.rule import WORD_PATTERN as _WORD_PATTERN  # noqa: E402  (results imports nothing of whybox)

#: the planted sentiment vocabulary of `reviews`: each occurrence counts +1 (positive) or -1 (negative)
REVIEW_POSITIVE_WORDS = ("good", "great", "excellent", "amazing", "solid", "reliable", "fantastic",
                         "superb", "lovely", "perfect", "sturdy", "impressive")
REVIEW_NEGATIVE_WORDS = ("bad", "poor", "terrible", "awful", "cheap", "flimsy", "broken", "sluggish",
                         "disappointing", "useless", "noisy", "mediocre")
#: the one negation: "not <sentiment word>" flips that word's sign (only the word right after it)
REVIEW_NEGATION = "not"

_REVIEW_PRODUCTS = ("phone", "laptop", "camera", "blender", "headset", "tablet", "speaker", "kettle",
                    "monitor", "router", "watch", "vacuum")
_REVIEW_ASPECTS = ("battery", "screen", "sound", "design", "price", "keyboard", "display", "handle",
                   "lid", "charger", "case", "finish", "setup", "packaging")
_REVIEW_VERBS = ("was", "felt", "seemed", "looked", "is", "proved")
_REVIEW_FILLERS = ("the", "this", "my", "and", "but", "of", "i", "found", "overall", "really", "honestly",
                   "after", "a", "week", "bought", "it", "for", "work", "home", "also", "quite", "today")

# sentence frames; {s} slots take a sentiment phrase ("good" or "not good"), the others neutral words
_REVIEW_FRAMES = (
    "The {a} of the {p} was {s}.",
    "This {p} is {s} overall.",
    "I found the {a} of this {p} {s}.",
    "The {a} {v} {s} and the {a} {v} {s}.",
    "This {p} is {s} but the {a} {v} {s}.",
    "Overall the {p} {v} {s} and {s}.",
    "Honestly the {a} {v} {s} but the {a} was {s}.",
    "After a week my {p} {v} {s}, the {a} {v} {s}.",
    "I bought it for work and the {a} {v} {s}.",
    "The {a} {v} {s}, the {a} {v} {s} and the {a} {v} {s}.",
    "My new {p} {v} {s} at home but {s} for work.",
    "Really {s} {p} and the {a} {v} also {s} today.",
)


def _review_words(text: str) -> list[str]:
    return _re.findall(_WORD_PATTERN, text)


def reviews_truth(text: str) -> tuple[int, list[tuple[int, str, int]]]:
    """The true label of any text built from the `reviews` vocabulary, and the words that decide it.

    The rule (the truth `reviews` generates its labels from): split the text into words with
    `whybox.results.WORD_PATTERN` and lower-case them; every word of `REVIEW_POSITIVE_WORDS` counts +1
    and every word of `REVIEW_NEGATIVE_WORDS` counts -1, except that a sentiment word right after
    "not" (`REVIEW_NEGATION`) counts with the opposite sign ("not good" -1, "not bad" +1). The label is
    1 if the score (the sum) is > 0, else 0. `reviews` never generates a score of 0, but a perturbed
    text (a word masked or deleted) may have one; it is then labelled 0. Words outside the vocabulary
    (a mask token, say) count nothing, and a "not" that is not right before a sentiment word does nothing.

    Returns (label, planted), planted a list of (word position, word, effect sign) in text order:
    each sentiment word with its counted sign, and for a negated one also the "not" before it with the
    same sign (removing "not" from "not good" moves the score up, so its effect is negative, like
    "good"'s there). Positions index `re.findall(WORD_PATTERN, text)`.
    """
    words = [w.lower() for w in _review_words(str(text))]
    planted: list[tuple[int, str, int]] = []
    score = 0
    for i, w in enumerate(words):
        if w in REVIEW_POSITIVE_WORDS:
            sign = 1
        elif w in REVIEW_NEGATIVE_WORDS:
            sign = -1
        else:
            continue
        if i > 0 and words[i - 1] == REVIEW_NEGATION:
            sign = -sign
            planted.append((i - 1, REVIEW_NEGATION, sign))
        planted.append((i, w, sign))
        score += sign
    return int(score > 0), planted


@dataclass(frozen=True, eq=False)
class Reviews:
    """Short generated product reviews whose label is a known function of planted words.

    texts            list of n reviews, 5 to 15 words each (`WORD_PATTERN` words)
    y                (n,) int64: 1 = positive, 0 = negative (the rule's label, flipped where `label_noise` hit)
    y_true           (n,) int64: the rule's label (`reviews_truth`), before any label noise
    planted          per text, the (word position, word, effect sign) that decide its label (`reviews_truth`)
    negated          (n,) bool: the text has the "not <sentiment word>" pattern
    positive_words, negative_words   the planted sentiment vocabulary
    negation         "not"
    neutral_words    the filler vocabulary (products, aspects, verbs, function words): no sentiment
    """

    texts: list[str]
    y: np.ndarray
    y_true: np.ndarray
    planted: list[list[tuple[int, str, int]]]
    negated: np.ndarray
    seed: int
    label_noise: float
    positive_words: tuple[str, ...] = REVIEW_POSITIVE_WORDS
    negative_words: tuple[str, ...] = REVIEW_NEGATIVE_WORDS
    negation: str = REVIEW_NEGATION
    neutral_words: tuple[str, ...] = field(
        default=tuple(dict.fromkeys(_REVIEW_PRODUCTS + _REVIEW_ASPECTS + _REVIEW_VERBS + _REVIEW_FILLERS
                                    + ("new", "at"))))

    def __len__(self) -> int:
        return len(self.texts)


def _fill_frame(rng: np.random.Generator, frame: str, phrases: list[str]) -> str:
    slots = iter(phrases)
    out: list[str] = []
    for piece in _re.split(r"(\{[apvs]\})", frame):
        if piece == "{s}":
            out.append(next(slots))
        elif piece == "{a}":
            out.append(str(rng.choice(_REVIEW_ASPECTS)))
        elif piece == "{p}":
            out.append(str(rng.choice(_REVIEW_PRODUCTS)))
        elif piece == "{v}":
            out.append(str(rng.choice(_REVIEW_VERBS)))
        else:
            out.append(piece)
    return "".join(out)


def reviews(n: int = 500, seed: int = 0, negation_rate: float = 0.25, label_noise: float = 0.0) -> Reviews:
    """A small generated corpus of short product reviews with a known sentiment rule.

    Each review fills one of a dozen sentence frames with neutral words (products, aspects, verbs) and
    one to three sentiment phrases; a phrase is a planted sentiment word, or "not" and one.
    The label is the rule of `reviews_truth` (the truth):

        score = sum over sentiment words of (+1 if positive, -1 if negative), the sign flipped for a
                word right after "not";  label = 1 if score > 0 else 0.

    Draws whose score is 0 are redrawn, so there are no ties. The classes alternate (n // 2 negatives,
    then shuffled); a fraction `negation_rate` of the texts (rounded, chosen at random) has exactly one
    negated phrase, the others none, so a model that reads words one at a time cannot get the negated
    texts right. With `label_noise` > 0 each label is flipped with that probability (`y`; `y_true`
    keeps the rule's). Same seed and arguments, same corpus.
    """
    if int(n) < 1:
        raise ValueError(f"n must be a positive number of reviews, got {n!r}")
    if not 0.0 <= float(negation_rate) <= 1.0:
        raise ValueError(f"negation_rate is a fraction in [0, 1], got {negation_rate!r}")
    if not 0.0 <= float(label_noise) <= 0.5:
        raise ValueError(f"label_noise is a probability in [0, 0.5], got {label_noise!r}")
    n = int(n)
    rng = np.random.default_rng([int(seed), 7])
    target = rng.permutation(np.arange(n) % 2).astype(np.int64)
    negated = rng.permutation(n) < round(float(negation_rate) * n)
    texts: list[str] = []
    planted: list[list[tuple[int, str, int]]] = []
    for i in range(n):
        while True:
            frame = _REVIEW_FRAMES[rng.integers(len(_REVIEW_FRAMES))]
            k = frame.count("{s}")
            positive = rng.uniform(size=k) < 0.5
            words = [str(rng.choice(REVIEW_POSITIVE_WORDS if p else REVIEW_NEGATIVE_WORDS)) for p in positive]
            signs = np.where(positive, 1, -1)
            if negated[i]:
                j = int(rng.integers(k))
                words[j] = f"{REVIEW_NEGATION} {words[j]}"
                signs[j] = -signs[j]
            score = int(signs.sum())
            if score != 0 and int(score > 0) == target[i]:
                break
        text = _fill_frame(rng, frame, words)
        text = text[0].upper() + text[1:]
        label, plant = reviews_truth(text)
        assert label == target[i]
        texts.append(text)
        planted.append(plant)
    y = target.copy()
    if label_noise > 0:
        y = np.where(rng.uniform(size=n) < float(label_noise), 1 - y, y).astype(np.int64)
    return Reviews(texts=texts, y=y, y_true=target, planted=planted, negated=negated, seed=int(seed),
                   label_noise=float(label_noise))


__all__ += ["Reviews", "reviews", "reviews_truth", "REVIEW_POSITIVE_WORDS", "REVIEW_NEGATIVE_WORDS",
            "REVIEW_NEGATION"]
