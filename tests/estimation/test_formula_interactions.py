"""Interactions of categories (text columns, C()) coded as formulaic/patsy code them, and the bound on
the number of generated design columns (formula/design.py, formula/_scoping.py).

Referee's defects: ``s:t`` of two text columns left out the first level of *both* (2 columns where the
full-rank coding has 5), so the model was misspecified without a message; ``C(id):x`` with 3,000
levels built 3,000 dense columns one by one (55 s)."""

from __future__ import annotations

import itertools
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.errors import SpecError
from clusterimpact.estimation.design import build_design, model_matrix
from clusterimpact.estimation.formula import MAX_COLUMNS
from clusterimpact.estimation.twfe import feols
from clusterimpact.formula import design
from tolerances import FORMULA_CELL_MEANS_REL, FORMULA_SAME_FIT_REL


@pytest.fixture(scope="module")
def cats() -> pd.DataFrame:
    """Three text columns (2, 3 and 2 levels), a numeric and a boolean regressor, a fixed effect, and
    an outcome that depends on every s x t cell (so a coding that loses cells fits visibly worse)."""
    rng = np.random.default_rng(11)
    n = 400
    df = pd.DataFrame(
        {
            "s": rng.choice(["a", "b"], n),
            "t": rng.choice(["x", "y", "z"], n),
            "u": rng.choice(["p", "q"], n),
            "x": rng.normal(size=n),
            "flag": rng.random(n) < 0.5,
            "f": rng.integers(0, 8, n),
        }
    )
    cell = {("a", "x"): 0.0, ("a", "y"): 1.0, ("a", "z"): -0.5}
    cell |= {("b", "x"): 2.0, ("b", "y"): -1.5, ("b", "z"): 0.7}
    effect = np.array([cell[k] for k in zip(df["s"], df["t"], strict=True)])
    df["y"] = effect + 0.8 * df["x"] + 0.3 * df["f"] + rng.normal(scale=0.5, size=n)
    df.loc[[5, 17], "t"] = None  # missing category: left out, as pyfixest does
    return df


_RHS = [
    "s:t",
    "x + s:t",
    "t + s:t",
    "s*t",
    "x:s",
    "s:x + s",
    "t:s",
    "C(s):C(t)",
    "s:t:u",
    "s + s:t:u",
    "x:s:t + t",
    "x*s*t",
    "x:flag + flag",  # booleans are 0/1 numbers for formulaic (not categories)
    "0 + s:t",
]
SAME_FIT = [f"y ~ {rhs}" for rhs in _RHS] + [f"y ~ {rhs} | f" for rhs in _RHS if "0 +" not in rhs]


@pytest.mark.parametrize("formula", SAME_FIT)
def test_category_interactions_fit_as_pyfixest(cats, formula):
    """Coefficients by name and r2 equal pyfixest handed the same text (formulaic's design)."""
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols(formula, cats, vcov="iid")
        res = feols(formula, cats, "iid")
    ref = m.coef()
    assert sorted(res.params.index) == sorted(str(c) for c in ref.index)
    assert list(res.params.index) == [str(c) for c in ref.index]  # formulaic's order too
    assert res.nobs == m._N
    got = res.params.reindex(ref.index).to_numpy()
    floor = FORMULA_SAME_FIT_REL * np.abs(ref.to_numpy()).max()
    assert_close(got, ref.to_numpy(), rel=FORMULA_SAME_FIT_REL, abs=floor)
    assert_close(res.r2, m._r2, rel=FORMULA_SAME_FIT_REL)
    if "|" in formula:
        assert_close(res.r2_within, m._r2_within, rel=FORMULA_SAME_FIT_REL)


def test_s_colon_t_spans_every_cell(cats):
    """Independent of any peer: with the intercept, ``s:t`` must span the 6 s x t cell dummies (rank 6),
    so its fit equals the cell-means regression."""
    d = cats.dropna()
    X = model_matrix("s:t", d)
    full = np.column_stack([np.ones(len(d)), X.to_numpy()])
    cells = pd.get_dummies(d["s"] + "_" + d["t"]).to_numpy(dtype=float)
    assert np.linalg.matrix_rank(full) == full.shape[1] == 6
    assert np.linalg.matrix_rank(np.column_stack([full, cells])) == 6  # same column space
    res = feols("y ~ s:t", d, "iid")
    cell_fit = d.groupby(["s", "t"])["y"].transform("mean")
    r2 = 1 - ((d["y"] - cell_fit) ** 2).sum() / ((d["y"] - d["y"].mean()) ** 2).sum()
    assert_close(res.r2, r2, rel=FORMULA_CELL_MEANS_REL)


def _formulaic_cases() -> list[str]:
    """Sums of 1-3 terms over s, t, u, x (seeded), with and without the intercept."""
    terms = ["s", "t", "u", "x", "s:t", "t:s", "s:u", "x:s", "x:t", "s:t:u", "x:s:t", "t:u:x"]
    rng = np.random.default_rng(4)
    out = []
    for k in (1, 2, 3):
        combos = list(itertools.combinations(terms, k))
        for j in rng.choice(len(combos), size=min(len(combos), 12), replace=False):
            rhs = " + ".join(combos[j])
            out += [rhs, f"0 + {rhs}"]
    return out


@pytest.mark.parametrize("rhs", _formulaic_cases())
def test_design_equals_formulaic(cats, rhs):
    """Generated columns: formulaic's names, order and values, on the rows formulaic keeps."""
    import formulaic

    ref = formulaic.model_matrix(rhs, cats)
    ref = ref.drop(columns=[c for c in ref.columns if c == "Intercept"])
    f, d = build_design(f"y ~ {rhs}", cats)
    assert list(f.terms) == list(ref.columns)
    ours = d.loc[ref.index, list(f.terms)].astype(float)
    np.testing.assert_array_equal(ours.to_numpy(), ref.to_numpy())


@pytest.mark.parametrize("rhs", ["s:t", "0 + s:t", "s*t + u", "s:t:u", "flag:s + x:s:t"])
def test_model_matrix_equals_patsy_for_category_interactions(cats, rhs):
    import patsy

    ref = patsy.dmatrix(rhs, cats, NA_action="drop", return_type="dataframe")
    ref = ref.drop(columns=[c for c in ref.columns if c == "Intercept"])
    ours = model_matrix(rhs, cats).dropna()
    # patsy puts terms without numeric factors first; formulaic (and we) order by degree
    assert sorted(ours.columns) == sorted(ref.columns)
    assert ours.index.equals(ref.index)
    np.testing.assert_array_equal(ours[ref.columns].to_numpy(), ref.to_numpy())


def test_text_column_alone_is_a_category(cats):
    """As formulaic: ``t`` is coded like ``C(t)`` (it was a 'not numeric' error before)."""
    plain = feols("y ~ x + t | f", cats, "iid").params
    coded = feols("y ~ x + C(t) | f", cats, "iid").params
    assert list(plain.index) == ["x", "t[T.y]", "t[T.z]"]
    np.testing.assert_array_equal(plain.to_numpy(), coded.to_numpy())


def test_i_with_another_category_is_an_error(cats):
    d = cats.assign(k=cats["f"] % 3)
    with pytest.raises(SpecError, match=r"i\(k\):s interacts i\(\) with another category"):
        build_design("y ~ i(k):s", d)
    with pytest.raises(SpecError, match="i\\(\\) term cannot"):
        build_design("y ~ i(k):C(s)", d)


# -- size bound ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def many() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    n = 6_000
    return pd.DataFrame(
        {"id": np.repeat(np.arange(3_000), 2), "x": rng.normal(size=n), "y": rng.normal(size=n)}
    )


# C(id):x: one slope per level (x alone is not in the model); C(id) / i(id) after the intercept: 2,999
@pytest.mark.parametrize(
    "rhs,count", [("C(id):x", "3,000"), ("i(id)", "2,999"), ("x + C(id)", "2,999")]
)
def test_too_many_generated_columns_fail_fast_with_the_fixed_effect_hint(many, rhs, count):
    t0 = time.process_time()
    with pytest.raises(SpecError, match=rf"{count} design columns.*'\| id'"):
        build_design(f"y ~ {rhs}", many)
    assert time.process_time() - t0 < 1.0  # before: 55 s building the columns


def test_columns_times_rows_are_bounded(many, monkeypatch):
    d = many.assign(g=many["id"] % 10)  # 10 levels: few columns, the cells bound decides
    assert len(build_design("y ~ C(g)", d)[0].terms) == 9
    monkeypatch.setattr(design, "MAX_CELLS", 9 * len(d) - 1)
    with pytest.raises(SpecError, match=r"9 design columns on 6,000 rows.*'\| g'"):
        build_design("y ~ C(g)", d)


def test_largest_allowed_design_is_built_in_one_block(many):
    d = many[many["id"] < MAX_COLUMNS]
    t0 = time.process_time()
    f, out = build_design("y ~ 0 + C(id)", d)
    assert time.process_time() - t0 < 2.0
    assert len(f.terms) == MAX_COLUMNS
    dummies = out[list(f.terms)].to_numpy()
    np.testing.assert_array_equal(dummies.sum(axis=1), np.ones(len(d)))
    np.testing.assert_array_equal(dummies.argmax(axis=1), d["id"].to_numpy())
