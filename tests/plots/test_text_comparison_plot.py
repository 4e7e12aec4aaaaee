import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.patches import Rectangle

from whybox import Attribution, InputError
from whybox.plots import text_comparison, text_comparison_html
from whybox.plots._common import BLUE, BLUE_WHITE_RED, RED

WORDS = ["the", "plot", "was", "not", "<b>&", "good"]
TOKENS = np.array([["a", "b", "", "", "", ""], WORDS], dtype=object)
MASK = TOKENS != ""
SHAP = np.array([[0.1, 0.2, 0, 0, 0, 0], [0.01, -0.02, 0.0, 0.04, -0.01, 0.03]])    # max |w| 0.04
IG = np.array([[1.0, 1.0, 0, 0, 0, 0], [2.0, -8.0, 0.5, 4.0, 0.0, -1.0]])           # max |w| 8
ROLLOUT = np.array([0.1, 0.3, 0.05, 0.2, 0.15, 0.2])                                 # one row, no outputs


@pytest.fixture
def attrs() -> dict:
    two_classes = np.stack([-IG, IG], axis=-1)                        # (2, 6, 2): "neg", "pos"
    return {
        "Partition SHAP": Attribution(values=SHAP, base_values=np.zeros(2), data=TOKENS, mask=MASK),
        "Integrated gradients": Attribution(values=two_classes, base_values=np.zeros((2, 2)), data=TOKENS,
                                            mask=MASK, output_names=["neg", "pos"], has_outputs=True),
        "Attention rollout": Attribution(values=ROLLOUT, base_values=np.zeros(()), data=np.array(WORDS, dtype=object),
                                         feature_names=WORDS, has_rows=False),
    }


def expected_colour(w, scale):
    return (1.0, 1.0, 1.0, 1.0) if w == 0 else BLUE_WHITE_RED(0.5 + 0.5 * w / scale)


def test_one_band_per_method_each_on_its_own_scale(attrs):
    fig = text_comparison(attrs, row=1, output="pos")
    fig.savefig(io.BytesIO(), format="png")                            # it renders
    assert len(fig.axes) == 4                                          # three bands and the colour bar
    expected = {"Partition SHAP": SHAP[1], "Integrated gradients": IG[1], "Attention rollout": ROLLOUT}
    for ax, (name, weights) in zip(fig.axes, expected.items()):
        assert ax.get_label() == name
        rects = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(rects) == len(WORDS)
        assert [t.get_text() for t in ax.texts] == WORDS
        scale = np.abs(weights).max()
        for p, w in zip(rects, weights):
            assert p.get_facecolor() == pytest.approx(expected_colour(w, scale), abs=1e-2)
    # each band's strongest word is at full colour although the methods' units differ 200-fold
    shap, ig = fig.axes[0].patches, fig.axes[1].patches
    assert to_rgb(shap[3].get_facecolor()) == pytest.approx(to_rgb(RED), abs=0.01)       # +0.04 = SHAP's max
    assert to_rgb(ig[1].get_facecolor()) == pytest.approx(to_rgb(BLUE), abs=0.01)        # -8 = IG's max
    assert to_rgb(fig.axes[2].patches[1].get_facecolor()) == pytest.approx(to_rgb(RED), abs=0.01)
    # IG's "not" (4 of 8) is half-way; SHAP's "plot" (-0.02 of 0.04) half-way too, in blue
    assert ig[3].get_facecolor() == pytest.approx(BLUE_WHITE_RED(0.75), abs=1e-2)
    assert shap[1].get_facecolor() == pytest.approx(BLUE_WHITE_RED(0.25), abs=1e-2)
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "own scale" in texts and "units" in texts
    assert "0.0400" in texts and "8.00" in texts                     # each band's max|w|


def test_words_share_one_layout_across_bands(attrs):
    long = [f"w{i}" for i in range(70)]
    rng = np.random.default_rng(0)
    many = {name: Attribution(values=rng.normal(size=70) * s, base_values=np.zeros(()),
                              data=np.array(long, dtype=object), has_rows=False)
            for name, s in (("a", 1.0), ("b", 100.0), ("c", 0.01), ("d", 3.0))}
    fig = text_comparison(many)
    assert len(fig.axes) == 5
    boxes = [[(p.get_y(), p.get_x(), p.get_width()) for p in ax.patches] for ax in fig.axes[:4]]
    assert all(b == boxes[0] for b in boxes)                             # same x (and line) for each word
    assert len({y for y, _, _ in boxes[0]}) > 1                          # the long text wraps
    assert boxes[0] == sorted(boxes[0])                                  # reading order
    ax = fig.axes[0]
    assert max(x + w for _, x, w in boxes[0]) <= ax.get_xlim()[1]
    tops = [ax.get_position().y1 for ax in fig.axes[:4]]
    assert tops == sorted(tops, reverse=True)                            # bands top to bottom in dict order


def test_mismatched_words_name_both_methods_and_the_position(attrs):
    other = np.array(["the", "plot", "was", "n't", "<b>&", "good"], dtype=object)
    attrs["LIME"] = Attribution(values=np.ones(6), base_values=np.zeros(()), data=other, has_rows=False)
    with pytest.raises(InputError) as err:
        text_comparison(attrs, row=1, output="pos")
    msg = str(err.value)
    assert "'Partition SHAP'" in msg and "'LIME'" in msg and "position 3" in msg
    assert "'not'" in msg and "\"n't\"" in msg and "summed into words" in msg
    # tokens instead of words: a longer list that agrees on a prefix
    pieces = np.array(WORDS[:3] + ["no", "##t", "<b>&", "good"], dtype=object)
    attrs["LIME"] = Attribution(values=np.ones(7), base_values=np.zeros(()), data=pieces, has_rows=False)
    with pytest.raises(InputError, match="position 3") as err:
        text_comparison_html(attrs, row=1, output="pos")
    assert "'LIME'" in str(err.value)
    # case matters
    attrs["LIME"] = Attribution(values=np.ones(6), base_values=np.zeros(()),
                                data=np.array(["The"] + WORDS[1:], dtype=object), has_rows=False)
    with pytest.raises(InputError, match="position 0"):
        text_comparison(attrs, row=1, output=1)


def test_output_choice(attrs):
    with pytest.raises(InputError, match="Integrated gradients"):     # two classes and no choice
        text_comparison(attrs, row=1)
    neg = text_comparison(attrs, row=1, output={"Integrated gradients": "neg"})
    pos = text_comparison(attrs, row=1, output={"Integrated gradients": 1})
    for fig, sign in ((neg, -1), (pos, 1)):
        ig = fig.axes[1].patches
        got = np.array([p.get_facecolor() for p in ig])
        assert got == pytest.approx(np.array([expected_colour(sign * w, 8.0) for w in IG[1]]), abs=1e-2)
        assert fig.axes[2].patches[1].get_facecolor() == pytest.approx(BLUE_WHITE_RED(1.0), abs=1e-2)
    with pytest.raises(InputError, match="not among the methods"):
        text_comparison(attrs, row=1, output={"Integrated gradient": 1})
    with pytest.raises(InputError, match="dict of method name"):
        text_comparison([attrs["Partition SHAP"]])
    with pytest.raises(InputError, match="dict of method name"):
        text_comparison({})


class Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.table_class = attrs.get("class")
        elif tag == "tr":
            self.rows.append({"method": attrs.get("data-method"), "head": "", "cells": []})
        elif tag == "th":
            self._cell = "head"
        elif tag == "td":
            self._cell = {"text": "", "style": attrs["style"], "title": attrs["title"],
                          "weight": float(attrs["data-weight"])}

    def handle_data(self, data):
        if self._cell == "head":
            self.rows[-1]["head"] += data
        elif isinstance(self._cell, dict):
            self._cell["text"] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self.rows[-1]["cells"].append(self._cell)
        if tag in ("td", "th"):
            self._cell = None


def test_html_table_has_a_row_per_method_and_a_cell_per_word(attrs):
    out = text_comparison_html(attrs, row=1, output={"Integrated gradients": "pos"})
    t = Table()
    t.feed(out)
    assert t.table_class == "whybox-comparison"
    assert [r["method"] for r in t.rows] == list(attrs)
    expected = [SHAP[1], IG[1], ROLLOUT]
    for r, weights in zip(t.rows, expected):
        assert r["head"].startswith(r["method"])
        assert len(r["cells"]) == len(WORDS)
        assert [c["text"] for c in r["cells"]] == WORDS
        assert [c["weight"] for c in r["cells"]] == weights.tolist()
        scale = np.abs(weights).max()
        for c, w in zip(r["cells"], weights):
            m = re.search(r"rgba\((\d+), (\d+), (\d+), ([\d.]+)\)", c["style"])
            if w == 0:
                assert m is None
            else:
                assert float(m.group(4)) == pytest.approx(abs(w) / scale, abs=1e-3)
                colour = tuple(int(x) for x in m.groups()[:3])
                assert colour == tuple(round(255 * x) for x in to_rgb(RED if w > 0 else BLUE))
    assert t.rows[1]["cells"][1]["title"] == "weight -8.00"
    assert "<b>&" not in out and "&lt;b&gt;&amp;" in out
