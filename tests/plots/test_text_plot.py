import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from whybox import Attribution, InputError
from whybox.plots import text, text_html
from whybox.plots._common import BLUE, RED

TOKENS = np.array([["a", "fine", "film", "", ""],
                   ["not", "<script>", "good", "at", "all"]], dtype=object)
#: row 1 weights: "not" strongest positive, "good" weaker positive, "<script>" and "all" negative, "at" zero
WEIGHTS = np.array([[0.2, 0.6, -0.1, 0.0, 0.0],
                    [1.5, -0.5, 0.75, 0.0, -1.0]])


class Spans(HTMLParser):
    """Collect (text, style, title) of every whybox-word span."""

    def __init__(self):
        super().__init__()
        self.spans, self._open = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "span" and attrs.get("class") == "whybox-word":
            self._open = {"text": "", "style": attrs.get("style", ""), "title": attrs.get("title", ""),
                          "weight": float(attrs["data-weight"])}

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open is not None:
            self.spans.append(self._open)
            self._open = None


def parse(html_text):
    p = Spans()
    p.feed(html_text)
    return p.spans


def background(style):
    """(r, g, b, alpha) of the span's background, or None."""
    m = re.search(r"background-color:\s*rgba\((\d+),\s*(\d+),\s*(\d+),\s*([\d.]+)\)", style)
    return None if m is None else tuple(float(x) for x in m.groups())


@pytest.fixture
def texts() -> Attribution:
    return Attribution(values=WEIGHTS, base_values=np.zeros(2), data=TOKENS, mask=TOKENS != "", method="lime")


def test_spans_follow_the_words_and_escape_them(texts):
    out = text_html(texts, row=1)
    spans = parse(out)
    assert [s["text"] for s in spans] == ["not", "<script>", "good", "at", "all"]
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert [s["weight"] for s in spans] == WEIGHTS[1].tolist()
    assert spans[0]["title"] == "weight +1.50"


def test_colours_encode_sign_and_strength(texts):
    spans = parse(text_html(texts, row=1))
    bg = [background(s["style"]) for s in spans]
    red = tuple(round(255 * c) for c in to_rgb(RED))
    blue = tuple(round(255 * c) for c in to_rgb(BLUE))
    assert bg[3] is None                                   # zero weight: no colour
    assert bg[0][:3] == red and bg[2][:3] == red
    assert bg[1][:3] == blue and bg[4][:3] == blue
    assert bg[0][3] == pytest.approx(1.0)                  # strongest word: full intensity
    alphas = [b[3] for b in bg if b is not None]
    assert max(alphas) == bg[0][3]
    assert [b[3] for b in (bg[1], bg[2], bg[4])] == pytest.approx([0.5 / 1.5, 0.75 / 1.5, 1.0 / 1.5], abs=1e-3)


def test_padding_is_dropped_and_outputs_are_picked(texts):
    spans = parse(text_html(texts, row=0))
    assert [s["text"] for s in spans] == ["a", "fine", "film"]
    two = Attribution(values=np.stack([WEIGHTS, -WEIGHTS], -1), base_values=np.zeros((2, 2)), data=TOKENS,
                      mask=TOKENS != "", output_names=["neg", "pos"], has_outputs=True)
    with pytest.raises(InputError, match="output="):
        text_html(two, row=1)
    spans = parse(text_html(two, row=1, output="pos"))
    assert [s["weight"] for s in spans] == (-WEIGHTS[1]).tolist()
    assert background(spans[0]["style"])[:3] == tuple(round(255 * c) for c in to_rgb(BLUE))


def test_single_row_with_words_as_feature_names(texts):
    spans = parse(text_html(texts[1]))
    assert [s["text"] for s in spans] == ["not", "<script>", "good", "at", "all"]


def sign(rgb):
    r, _, b = rgb[:3]
    if np.allclose(rgb[:3], 1.0):
        return 0
    return 1 if r > b else -1


def test_figure_has_one_box_per_word_coloured_by_sign(texts):
    fig = text(texts, row=1)
    fig.savefig(io.BytesIO(), format="png")  # it renders
    ax = fig.axes[0]
    assert len(ax.patches) == 5
    assert [sign(p.get_facecolor()) for p in ax.patches] == [1, -1, 1, 0, -1]
    assert [t.get_text() for t in ax.texts] == ["not", "<script>", "good", "at", "all"]
    # the strongest word has the most saturated box: full RED
    assert to_rgb(ax.patches[0].get_facecolor()) == pytest.approx(to_rgb(RED), abs=0.01)
    assert len(fig.axes) == 2  # the colour bar


def test_figure_wraps_long_texts_in_reading_order():
    words = np.array([f"word{i}" for i in range(60)], dtype=object)
    row = Attribution(values=np.linspace(-1, 1, 60), base_values=np.zeros(()), data=words, has_rows=False)
    ax = text(row).axes[0]
    boxes = [(p.get_y(), p.get_x()) for p in ax.patches]
    assert len({y for y, _ in boxes}) > 1                  # more than one line
    assert boxes == sorted(boxes)                          # left to right, then top to bottom
    assert max(p.get_x() + p.get_width() for p in ax.patches) <= ax.get_xlim()[1]
