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
        text(two, row=1)                                   # the figure still needs one output
    with pytest.raises(InputError, match="unknown output"):
        text_html(two, row=1, output="maybe")
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


# --------------------------------------------------------------------------- one line per output

class Lines(HTMLParser):
    """Collect every whybox-line div: its data-output, its label text, and its word spans."""

    def __init__(self):
        super().__init__()
        self.lines, self._in_label, self._word = [], False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and attrs.get("class") == "whybox-line":
            self.lines.append({"output": attrs.get("data-output"), "label": "", "words": []})
        elif tag == "span" and attrs.get("class") == "whybox-output":
            self._in_label = True
        elif tag == "span" and attrs.get("class") == "whybox-word":
            self._word = {"text": "", "style": attrs["style"], "title": attrs["title"],
                          "weight": float(attrs["data-weight"])}

    def handle_data(self, data):
        if self._in_label:
            self.lines[-1]["label"] += data
        elif self._word is not None:
            self._word["text"] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._in_label:
            self._in_label = False
        elif tag == "span" and self._word is not None:
            self.lines[-1]["words"].append(self._word)
            self._word = None


def lines_of(html_text):
    p = Lines()
    p.feed(html_text)
    return p.lines


THREE = np.stack([WEIGHTS, -2 * WEIGHTS, 0.5 * WEIGHTS + 0.1 * (TOKENS != "")], -1)  # (2, 5, 3)


@pytest.fixture
def three() -> Attribution:
    return Attribution(values=THREE, base_values=np.zeros((2, 3)), data=TOKENS, mask=TOKENS != "",
                       output_names=["neg", "neutral", "pos"], has_outputs=True, method="lime")


def test_several_outputs_give_one_line_each_on_one_shared_scale(three):
    out = text_html(three, row=1)
    lines = lines_of(out)
    assert [ln["output"] for ln in lines] == ["neg", "neutral", "pos"]
    assert [ln["label"] for ln in lines] == ["neg", "neutral", "pos"]
    shared = np.abs(THREE[1]).max()                        # 3.0: output "neutral", word "not"
    assert shared == pytest.approx(3.0)
    for k, ln in enumerate(lines):
        assert [w["text"] for w in ln["words"]] == ["not", "<script>", "good", "at", "all"]
        assert [w["weight"] for w in ln["words"]] == THREE[1, :, k].tolist()
        for w in ln["words"]:
            bg = background(w["style"])
            if w["weight"] == 0:
                assert bg is None
            else:
                assert bg[3] == pytest.approx(abs(w["weight"]) / shared, abs=1e-3)
                assert bg[:3] == tuple(round(255 * c) for c in to_rgb(RED if w["weight"] > 0 else BLUE))
    # "neg" alone would reach full colour at 1.5; on the shared scale its strongest word is half as intense
    assert background(lines[0]["words"][0]["style"])[3] == pytest.approx(0.5, abs=1e-3)
    assert lines[1]["words"][0]["title"] == "weight -3.00"
    assert "3.00" in out.split('class="whybox-legend"')[1].split("</div>")[0]   # the legend states the scale
    assert "<script>" not in out and out.count("&lt;script&gt;") == 3


def test_unnamed_outputs_are_labelled_by_index(three):
    anon = Attribution(values=THREE, base_values=np.zeros((2, 3)), data=TOKENS, mask=TOKENS != "",
                       has_outputs=True)
    lines = lines_of(text_html(anon, row=0))
    assert [ln["output"] for ln in lines] == ["0", "1", "2"]
    assert [ln["label"] for ln in lines] == ["0", "1", "2"]
    assert [[w["text"] for w in ln["words"]] for ln in lines] == [["a", "fine", "film"]] * 3


def test_explicit_output_draws_one_line_on_its_own_scale(three):
    for output in ("pos", 2, -1):
        lines = lines_of(text_html(three, row=1, output=output))
        assert len(lines) == 1 and lines[0]["output"] == "pos" and lines[0]["label"] == ""
        weights = THREE[1, :, 2]
        assert [w["weight"] for w in lines[0]["words"]] == weights.tolist()
        own = np.abs(weights).max()
        alphas = [background(w["style"])[3] for w in lines[0]["words"]]
        assert alphas == pytest.approx(np.abs(weights) / own, abs=1e-3)
    lines = lines_of(text_html(Attribution(values=WEIGHTS, base_values=np.zeros(2), data=TOKENS,
                                           mask=TOKENS != ""), row=1))
    assert len(lines) == 1 and lines[0]["output"] is None  # no outputs axis: one line, no output name


def test_words_and_output_names_are_escaped():
    words = np.array(["<b>&", "ok"], dtype=object)
    attr = Attribution(values=np.array([[1.0, -1.0], [0.5, 0.25]]), base_values=np.zeros(2), data=words,
                       output_names=['"q"&<i>', "b"], has_rows=False, has_outputs=True)
    out = text_html(attr)
    assert "<b>&" not in out and "&lt;b&gt;&amp;" in out and "<i>" not in out
    lines = lines_of(out)
    assert [ln["output"] for ln in lines] == ['"q"&<i>', "b"]
    assert [w["text"] for w in lines[0]["words"]] == ["<b>&", "ok"]
    assert [w["weight"] for w in lines[1]["words"]] == [-1.0, 0.25]
