"""Every figure renders, saves as PNG + PDF, and re-renders to byte-identical files."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _plotfakes import estimate_result, fake_panel, profile_result

from clusterimpact import plotting as P
from clusterimpact.errors import SpecError

PANEL = fake_panel(n_firms=120)
XS = [-3, -2, 0, 1, 2, 3]


def _es():
    cs = profile_result(XS, np.linspace(-0.01, 0.05, 6), np.full(6, 0.01), crit=2.6, reference=-1)
    sa = profile_result(XS, np.linspace(0.0, 0.04, 6), np.full(6, 0.012), method="sa", reference=-1)
    return {"CS": cs, "SA": sa}


def _stack():
    m = PANEL[PANEL["rel_year"].notna()].assign(treated=1)
    c = PANEL[~PANEL["ever_member"]].assign(rel_year=lambda d: d["year"] - 2014, treated=0)
    s = pd.concat([m, c], ignore_index=True)
    return s[(s["rel_year"] >= -3) & (s["rel_year"] <= 3)]


BAL = pd.DataFrame(
    {"covariate": ["ln_emp", "age"], "smd_before": [0.5, 0.2], "smd_after": [0.02, -0.04]}
)
_rng = np.random.default_rng(11)
PS_T = _rng.integers(0, 2, 200)
PS = np.clip(_rng.beta(2, 4, 200) + 0.15 * PS_T, 0, 1)
DUR = profile_result(
    [1, 2, 3, "4+"], [0.01, 0.02, 0.03, 0.035], [0.005] * 4, prefix="member_years::"
)
COMP = pd.DataFrame(
    {
        "estimator": ["TWFE", "CS"],
        "outcome": ["ln_lp", "ln_lp"],
        "estimate": [0.01, 0.03],
        "std_error": [0.01, 0.01],
    }
)

FIGURES: dict[str, Callable[[], plt.Axes]] = {
    "members_vs_sector": lambda: P.plot_members_vs_sector(PANEL, "va_per_fte"),
    "members_vs_sector_emp": lambda: P.plot_members_vs_sector(PANEL, "emp", stat="mean"),
    "selection": lambda: P.plot_selection(PANEL),
    "love": lambda: P.plot_love(BAL),
    "overlap": lambda: P.plot_overlap(PS, PS_T),
    "trajectories": lambda: P.plot_trajectories(_stack()),
    "event_study": lambda: P.plot_event_study(_es()),
    "duration": lambda: P.plot_duration_premium(DUR, truth={1: 0.01, 2: 0.02}),
    "forest": lambda: P.plot_forest(
        {"cluster": estimate_result(["cluster:A", "cluster:B"], [0.01, 0.02], [0.01, 0.01])}
    ),
    "comparison": lambda: P.plot_estimator_comparison(COMP, truth=0.03),
    "truth": lambda: P.plot_truth_vs_estimate(_es()["CS"], {str(x): 0.01 * x for x in XS}),
}


PDF_CHECKED = {"event_study", "members_vs_sector", "selection"}  # PDF writing is slow: a sample


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_saves_deterministically(name, tmp_path):
    ax = FIGURES[name]()
    caption = P.figure_caption(ax)
    assert len(caption) > 40, "every figure states estimand, sample and method"
    assert ax.get_title(loc="left") and ax.get_xlabel()
    formats = ("png", "pdf") if name in PDF_CHECKED else ("png",)
    first = P.save_figure(ax.figure, tmp_path / "a" / name, formats=formats, dpi=60)
    assert [p.suffix for p in first] == ["." + f for f in formats]
    plt.close("all")
    again = P.save_figure(FIGURES[name](), tmp_path / "b" / f"{name}.png", formats=formats, dpi=60)
    for p1, p2 in zip(first, again, strict=True):
        assert p1.read_bytes() == p2.read_bytes(), f"{p1.name} differs between two renders"
    assert b"Software" not in first[0].read_bytes()
    if name in PDF_CHECKED:
        pdf = first[1].read_bytes()
        assert b"CreationDate" not in pdf and b"matplotlib" not in pdf.lower()


def test_save_figure_default_png_pdf_and_truetype(tmp_path):
    ax = P.plot_love(BAL)
    png, pdf = P.save_figure(ax, tmp_path / "love")
    assert png.suffix == ".png" and pdf.suffix == ".pdf"
    (pdf42,) = P.save_figure(ax, tmp_path / "love42", formats=("pdf",), pdf_fonttype=42)
    assert b"/FontFile2" in pdf42.read_bytes() and b"/FontFile2" not in pdf.read_bytes()
    with pytest.raises(SpecError, match="pdf_fonttype=1"):
        P.save_figure(ax, tmp_path / "x", pdf_fonttype=1)


def test_save_figure_options(tmp_path):
    ax = P.plot_love(BAL)
    (svg,) = P.save_figure(ax, tmp_path / "love", formats=("svg",))
    assert svg.suffix == ".svg" and b"<dc:date>" not in svg.read_bytes()
    with pytest.raises(SpecError, match="not supported"):
        P.save_figure(ax, tmp_path / "love", formats=("gif",))
    with pytest.raises(SpecError, match="Figure or Axes"):
        P.save_figure("figure", tmp_path / "x")  # type: ignore[arg-type]
