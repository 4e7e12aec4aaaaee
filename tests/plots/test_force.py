import numpy as np
import pytest
from matplotlib.colors import to_hex

from whybox import InputError
from whybox.plots import force
from whybox.plots._common import BLUE, PALE_BLUE, PALE_RED, RED


def segments(ax):
    """(label, left, right, colour) of every force segment, left to right."""
    segs = []
    for p in ax.patches:
        if p.get_gid() == "force-segment":
            x = p.get_xy()[:, 0]
            segs.append((p.get_label(), x.min(), x.max(), to_hex(p.get_facecolor())))
    return sorted(segs, key=lambda s: s[1])


def test_segments_tile_from_red_to_blue_around_output(row, helpers):
    ax = helpers.main_axes(force(row))
    segs = segments(ax)
    fx = 1.0 + row.values.sum()
    # red (up) left of f(x), the largest next to it; blue (down) right of it, the largest next to it
    assert [s[0] for s in segs] == ["c", "a", "d", "b", "e"]
    assert [s[3] for s in segs] == [RED, RED, RED, BLUE, BLUE]
    for (_, _, r, _), (_, left, _, _) in zip(segs[:-1], segs[1:]):
        assert left == pytest.approx(r)
    assert segs[2][2] == pytest.approx(fx) and segs[3][1] == pytest.approx(fx)
    widths = {s[0]: s[2] - s[1] for s in segs}
    assert widths == pytest.approx({n: abs(v) for n, v in zip(row.feature_names, row.values)})
    # red total minus blue total takes the base value to f(x)
    red = sum(s[2] - s[1] for s in segs if s[3] == RED)
    blue = sum(s[2] - s[1] for s in segs if s[3] == BLUE)
    assert 1.0 + red - blue == pytest.approx(fx)


def test_labels_and_annotations(row, helpers):
    ax = helpers.main_axes(force(row))
    texts = [t.get_text() for t in ax.texts]
    for lab in ["b = red", "d = 10", "a = 3", "e = missing", "c = 2.5"]:
        assert lab in texts
    assert any(t.startswith("base value = 1.0") for t in texts)
    fx_text = next(t for t in texts if t.startswith("f(x) = "))
    assert float(fx_text.split(" = ")[1]) == pytest.approx(1.0 + row.values.sum(), abs=1e-2)


def test_max_display_labels_only_the_largest(table, helpers):
    r = table[0]
    ax = helpers.main_axes(force(r, max_display=3))
    order = np.argsort(-np.abs(r.values), kind="stable")
    top = [r.feature_names[i] for i in order[:3]]
    labelled = [t.get_text().split(" = ")[0] for t in ax.texts if " = " in t.get_text()
                and not t.get_text().startswith(("base value", "f(x)"))]
    assert sorted(labelled) == sorted(top)
    segs = segments(ax)
    rest = r.values[order[3:]]
    lumps = [s for s in segs if s[3] in (PALE_RED, PALE_BLUE)]
    assert len(segs) == 3 + len(lumps)
    assert len(lumps) == int((rest > 0).any()) + int((rest < 0).any())
    for s in lumps:
        total = rest[rest > 0].sum() if s[3] == PALE_RED else -rest[rest < 0].sum()
        assert s[2] - s[1] == pytest.approx(total)
        assert s[0].endswith("other features")
    # the whole band still spans f(x) - sum(up) .. f(x) + sum(down)
    fx = float(r.output)
    assert segs[0][1] == pytest.approx(fx - r.values[r.values > 0].sum())
    assert segs[-1][2] == pytest.approx(fx - r.values[r.values < 0].sum())


def test_errors(row, table, multi_output):
    with pytest.raises(InputError, match="one explained row"):
        force(table)
    with pytest.raises(InputError, match=r"attr\[0, \.\.\., 'no'\]"):
        force(multi_output[0])
    with pytest.raises(InputError, match="max_display"):
        force(row, max_display=0)
