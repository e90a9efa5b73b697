"""The figure fingerprint of the golden test: the same for any rasterisation, different for any change
of what is drawn (data beyond six significant digits, texts, colours)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest

import _report_golden as golden
from clusterimpact.report._fingerprint import figure_content, figure_fingerprint


def _draw(y=(1.0, 2.0, 1.5), label="effect", colour="C0", title="Premium", bar=2.0):
    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.arange(len(y))
    ax.errorbar(x, y, yerr=0.1, color=colour, label=label, marker="o")
    ax.bar([5], [bar])
    ax.fill_between([0, 1], [0, 0.5], alpha=0.2)
    ax.scatter([1], [1])
    ax.axhline(0, color="grey")
    ax.text(0.5, 0.5, "note")
    ax.set(title=title, xlabel="years", ylabel="log points")
    ax.legend()
    return fig


def _fp(fig, dpi=80, fmt="png"):
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    out = figure_fingerprint(fig)
    plt.close(fig)
    return out, buf.getvalue()


def test_rasterisation_does_not_change_the_fingerprint():
    a, png_a = _fp(_draw(), dpi=60)
    b, png_b = _fp(_draw(), dpi=120)
    c, _ = _fp(_draw(), fmt="pdf")
    assert png_a != png_b  # the bytes differ ...
    assert a == b == c  # ... what is drawn does not


@pytest.mark.parametrize(
    "change",
    [
        {"y": (1.0, 2.0, 1.5001)},  # a point moves in the 5th significant digit
        {"bar": 2.5},
        {"label": "effect (%)"},
        {"colour": "C1"},
        {"title": "Premium, percent"},
    ],
)
def test_a_drawn_change_changes_the_fingerprint(change):
    assert _fp(_draw(**change))[0] != _fp(_draw())[0]


def test_float_noise_below_six_digits_does_not():
    assert _fp(_draw(y=(1.0, 2.0, 1.5 + 1e-10)))[0] == _fp(_draw())[0]


def test_content_lists_the_data_drawn():
    fig = _draw()
    fig.canvas.draw()
    ax = figure_content(fig)["axes"][0]
    plt.close(fig)
    lines = [a for a in ax["artists"] if a["kind"] == "Line2D" and len(a["xy"]) == 3]
    assert lines[0]["xy"] == [[0.0, 1.0], [1.0, 2.0], [2.0, 1.5]]
    bars = [a for a in ax["artists"] if a["kind"] == "Rectangle"]
    assert [4.6, 0.0, 0.8, 2.0] in [b["xywh"] for b in bars]
    assert ax["titles"][1] == "Premium" and ax["labels"] == ["years", "log points"]
    assert ax["legend"] == ["effect"]
    assert {"note"} <= {a.get("text") for a in ax["artists"]}


def test_normalised_html_drops_images_and_versions_only():
    fps = {"a": "f" * 64}
    page = (
        '<p class="meta">clusterimpact 0.1.0; outcomes: x</p>'
        '<figure id="fig-a"><img src="data:image/png;base64,AAAA+/=" alt="A">'
        '<div class="table" id="tab-versions"><table>numpy 2</table></div>\n<td>0.123</td>'
    )
    other = page.replace("AAAA+/=", "BBBB").replace("numpy 2", "numpy 3").replace("0.1.0", "0.2.0")
    n = golden.normalised_html(page, fps)
    assert n == golden.normalised_html(other, fps)
    assert "f" * 64 in n and "AAAA" not in n
    assert n != golden.normalised_html(page.replace("0.123", "0.124"), fps)
    assert n != golden.normalised_html(page, {"a": "e" * 64})
