"""Our formula grammar (formula/grammar.py, design.py): parsed structure, errors naming the token,
fits equal to pyfixest handed the same formula text (what feols did before), computed columns, patsy's
design for the matching formula, the repository's formulas, and a fuzz test."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fe_helpers import make_panel
from hypothesis import given, settings
from hypothesis import strategies as st

from _asserts import assert_close
from clusterimpact.errors import DataError, EstimationWarning, SpecError
from clusterimpact.estimation.design import build_design, model_matrix
from clusterimpact.estimation.formula import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    parse_column_name,
    parse_formula,
    parse_rhs,
)
from clusterimpact.estimation.twfe import feols
from tolerances import FORMULA_SAME_FIT_REL

REPO = Path(__file__).resolve().parents[2]

# (formula, outcome, terms after expansion, intercept, fixed effects, (endogenous, instruments) or None)
# Expected terms follow fixest/formulaic: a*b = a + b + a:b, terms ordered by number of factors then as
# written, duplicates (x:x = x, w:x = x:w) kept once, "- t" removes t; names as formulaic prints them.
GRAMMAR = [
    ("y ~ x", "y", ["x"], True, [], None),
    ("y~x|f", "y", ["x"], True, ["f"], None),
    (
        "ln_lp ~ member + x | firm_id + year",
        "ln_lp",
        ["member", "x"],
        True,
        ["firm_id", "year"],
        None,
    ),
    ("y ~ x | firm_id + sector^year", "y", ["x"], True, ["firm_id", "sector^year"], None),
    ("y ~ x | sector ^ year ^ region", "y", ["x"], True, ["sector^year^region"], None),
    ("y ~ x | 0", "y", ["x"], True, [], None),
    ("y ~ log(w) + exp(x) + sqrt(w)", "y", ["log(w)", "exp(x)", "sqrt(w)"], True, [], None),
    ("y ~ I(x**2) + I(x*2+w)", "y", ["I(x ** 2)", "I(x * 2 + w)"], True, [], None),
    (
        "y ~ I(x**-1) + I(- - x) + I(x + 1e-3) + I(x+.5)",
        "y",
        ["I(x ** (-1))", "I(--x)", "I(x + 0.001)", "I(x + 0.5)"],
        True,
        [],
        None,
    ),
    (
        "y ~ I(-x ** 2) + I((-x) ** 2) + I(2 ** 3 ** x) + I((2 ** x) ** 3) + I(x - (w - 1))",
        "y",
        ["I(-x ** 2)", "I((-x) ** 2)", "I(2 ** 3 ** x)", "I((2 ** x) ** 3)", "I(x - (w - 1))"],
        True,
        [],
        None,
    ),
    (
        "y ~ I(log(va) - log(emp)) + log(I(w * 2))",
        "y",
        ["I(log(va) - log(emp))", "log(I(w * 2))"],
        True,
        [],
        None,
    ),
    ("y ~ x:w + x*z", "y", ["x", "z", "x:w", "x:z"], True, [], None),
    ("y ~ x*w*z", "y", ["x", "w", "z", "x:w", "x:z", "w:z", "x:w:z"], True, [], None),
    ("y ~ (x + w):z", "y", ["x:z", "w:z"], True, [], None),
    ("y ~ (x + w)*(z + v)", "y", ["x", "w", "z", "v", "x:z", "x:v", "w:z", "w:v"], True, [], None),
    ("y ~ x + x:x", "y", ["x"], True, [], None),
    ("y ~ w:x + x:w", "y", ["w:x"], True, [], None),
    ("y ~ x*w - x:w", "y", ["x", "w"], True, [], None),
    ("y ~ x - x + w", "y", ["w"], True, [], None),
    ("y ~ x + I(x ** 2):w", "y", ["x", "I(x ** 2):w"], True, [], None),
    ("y ~ x - 1", "y", ["x"], False, [], None),
    ("y ~ 0 + x", "y", ["x"], False, [], None),
    ("y ~ x + 0", "y", ["x"], False, [], None),
    ("y ~ -1 + x", "y", ["x"], False, [], None),
    ("y ~ x + 1", "y", ["x"], True, [], None),
    ("y ~ C(sector) + x", "y", ["C(sector)", "x"], True, [], None),
    ("y ~ x*C(sector) | f", "y", ["x", "C(sector)", "x:C(sector)"], True, ["f"], None),
    ("y ~ C(sector):x", "y", ["C(sector):x"], True, [], None),
    (
        "y ~ i(rel, ref=-1) | firm_id + year",
        "y",
        ["i(rel, ref=-1)"],
        True,
        ["firm_id", "year"],
        None,
    ),
    ("y ~ i(rel)", "y", ["i(rel)"], True, [], None),
    ("y ~ i(rel, x, ref=-1)", "y", ["i(rel, x, ref=-1)"], True, [], None),
    ("y ~ i(rel, ref = [-1, -1000])", "y", ["i(rel, ref=[-1, -1000])"], True, [], None),
    ("y ~ i(sector, ref='b')", "y", ["i(sector, ref='b')"], True, [], None),
    ("y ~ `my col` + x | `firm id`", "y", ["my col", "x"], True, ["firm id"], None),
    ("y ~ `a.b` + `lambda`", "y", ["a.b", "lambda"], True, [], None),
    ("y ~ type + match + i + C", "y", ["type", "match", "i", "C"], True, [], None),
    ("log(y + 10) ~ x | f", "log(y + 10)", ["x"], True, ["f"], None),
    ("I(y * 100) ~ x", "I(y * 100)", ["x"], True, [], None),
    ("y ~ 1 | f | x ~ w + v", "y", [], True, ["f"], (["x"], ["w", "v"])),
    ("y ~ member | f | x ~ log(w)", "y", ["member"], True, ["f"], (["x"], ["log(w)"])),
    ("y ~ member | x ~ w", "y", ["member"], True, [], (["x"], ["w"])),
]


@pytest.mark.parametrize("formula,lhs,terms,intercept,fe,iv", GRAMMAR, ids=[g[0] for g in GRAMMAR])
def test_valid_formulas_parse_to_the_expected_structure(formula, lhs, terms, intercept, fe, iv):
    p = parse_formula(formula)
    assert p.depvar == lhs
    assert list(p.term_names) == terms
    assert p.intercept is intercept
    assert list(p.fixed_effects) == fe
    got_iv = None if p.iv is None else ([v.name for v in p.iv[0]], [v.name for v in p.iv[1]])
    assert got_iv == iv


def test_reference_levels_are_values_not_text():
    (term,) = parse_formula("y ~ i(rel, ref=[-1, 2.5, 'a', +3])").terms
    assert term[0].refs == (-1, 2.5, "a", 3)
    assert [type(r) for r in term[0].refs] == [int, float, str, int]


# (formula, token and 1-based position the message must name, what it must say)
ERRORS = [
    ("y ~ x + exec(1)", "'exec' at position 9", "not allowed"),
    ("y ~ I(x + len(w))", "'len' at position 11", "not allowed"),
    ("y ~ np.log(x)", "'.' at position 7", "attribute access"),
    ("y ~ x.__class__", "'.' at position 6", "attribute access"),
    ("y ~ __x", "'__x' at position 5", "dunder"),
    ("y ~ `a__b`", "'`a__b`' at position 5", "dunder"),
    ("y ~ lambda", "'lambda' at position 5", "keyword"),
    ("y ~ x if w else z", "'if' at position 7", "keyword"),
    ("y ~ 'abc'", "\"'abc'\" at position 5", "string"),
    ("y ~ x[0]", "'[' at position 6", "subscripts"),
    ("y ~ x, w", "',' at position 6", "comma"),
    ("y ~ x = 1", "'=' at position 7", "ref="),
    ("y ~ x ^ 2", "'^' at position 7", "fixed effects"),
    ("y ~ I(x ^ 2)", "'^' at position 9", "**"),
    ("y ~ x ** 2", "'**' at position 7", "inside I("),
    ("y ~ 2", "'2' at position 5", "intercept"),
    ("y ~ 1:x", "'1' at position 5", "stand alone"),
    ("y ~ (x + 0)", "'0' at position 10", "directly in the sum"),
    ("y ~ I(2)", "'I' at position 5", "at least one column"),
    ("y ~ C(a, b)", "',' at position 8", "C() takes one column"),
    ("y ~ i(a, bin=3)", "'bin' at position 10", "no other option"),
    ("y ~ i(a, ref=x)", "'x' at position 14", "reference level"),
    ("y ~ i(a):C(b)", "':' at position 9", "i() term cannot"),
    ("y ~ C(a):i(b, x)", "':' at position 9", "i() term cannot"),
    ("y ~ C(a) ~ x", "'~' at position 10", "one '~'"),
    ("y ~ x | f | g", "'|' at position 11", "at most"),
    ("y ~ x | log(f)", "'log' at position 9", "fixed effect"),
    ("y ~ x | f | 0", "'|' at position 11", "at most"),
    ("y ~ x +", "at the end", "ends too early"),
    ("y ~ (x", "at the end", "expected ')'"),
    ("y ~ x)", "')' at position 6", "unbalanced"),
    ("y ~ x @ w", "'@' at position 7", "not allowed"),
    ("y ~ x; import os", "';' at position 6", "not allowed"),
    ("y ~ 0x10", "'0x' at position 5", "not a number"),
    ("y ~ I(x + 1e999)", "'1e999' at position 11", "too large"),
    ("y ~ `x", "'`' at position 5", "backquoted"),
    ("C(x) ~ w", "'C' at position 1", "outcome"),
]


@pytest.mark.parametrize("formula,where,why", ERRORS, ids=[e[0] for e in ERRORS])
def test_invalid_formulas_name_the_token_and_position(formula, where, why):
    with pytest.raises(SpecError) as exc:
        parse_formula(formula)
    msg = str(exc.value)
    assert where in msg and why in msg and repr(formula)[:40] in msg


def test_input_is_bounded():
    with pytest.raises(SpecError, match="limit"):
        parse_formula("y ~ " + "x + " * (MAX_LENGTH // 4) + "x")
    with pytest.raises(SpecError, match=f"more than {MAX_DEPTH} levels deep"):
        parse_formula("y ~ " + "(" * 5000 + "x" + ")" * 5000)
    with pytest.raises(SpecError, match=f"more than {MAX_DEPTH} levels deep"):
        parse_formula("y ~ I(" + "-" * 5000 + "x)")
    with pytest.raises(SpecError, match=f"more than {MAX_DEPTH} levels deep"):
        parse_formula("y ~ I(" + "log(" * 500 + "x" + ")" * 501)
    with pytest.raises(SpecError, match="operations deep"):
        parse_formula("y ~ I(" + " + ".join(["x"] * 4000) + ")")
    with pytest.raises(
        SpecError, match=f"more than {MAX_DEPTH} levels deep"
    ):  # ** nests rightwards
        parse_formula("y ~ I(" + "**".join(["x"] * 3000) + ")")
    with pytest.raises(SpecError, match=f"more than {MAX_TERMS} terms"):
        parse_formula("y ~ " + "*".join(f"x{j}" for j in range(12)))
    # long but legitimate: a thousand regressors
    p = parse_formula("y ~ " + " + ".join(f"x{j}" for j in range(1000)))
    assert len(p.terms) == 1000


def test_column_name_rule():
    assert parse_column_name("ln_lp") == "ln_lp"
    assert parse_column_name(" `my col` ") == "my col"
    for bad, token in [("log(emp)", "'('"), ("a + b", "'+'"), ("__import__", "'__import__'")]:
        with pytest.raises(SpecError, match=re.escape(token)):
            parse_column_name(bad, "[matching] covariates entry")


# -- the design ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df = make_panel(n_firms=150, seed=3)
    rng = np.random.default_rng(7)
    rel = df["year"] - df["treat_year"].astype("Float64")
    return df.assign(
        rel=rel.fillna(-1).astype(int).clip(-3, 4),
        relf=rel.fillna(-1).astype(float).clip(-3, 4),
        relnan=rel.astype(float).clip(-3, 4),  # never-members missing: left out, as fixest does
        z=rng.normal(size=len(df)),
        v=rng.normal(size=len(df)),
        sec2=np.where(rng.random(len(df)) < 0.4, "a", "b"),
        **{"my col": rng.normal(size=len(df))},
    )


# formulas that went to pyfixest as text before: now pyfixest gets our computed columns
SAME_FIT = [
    "ln_lp ~ log(w) + exp(x) | firm_id",
    "ln_lp ~ log(x) | firm_id",  # x < 0 on about half the rows: left out
    "ln_lp ~ I(x**2) + I(x*2+w) + I(-x) + I(x/w) | firm_id",
    "ln_lp ~ I(x ** (-1)) + I(2 ** x) + I(-x ** 2) | year",
    "ln_lp ~ x:w + x*z | firm_id",
    "ln_lp ~ (x + w):z + x*w*z | year",
    "ln_lp ~ C(sec2) + x",
    "ln_lp ~ C(sec2):x | firm_id",
    "ln_lp ~ x*C(sec2) | firm_id",
    "ln_lp ~ C(sec2)*x",
    "ln_lp ~ 0 + C(sector) + C(sec2)",
    "ln_lp ~ C(year) + x | firm_id",
    "ln_lp ~ x:sec2 | firm_id",
    "ln_lp ~ i(rel, ref=-1) | firm_id + year",
    "ln_lp ~ i(relf, ref=-1) | firm_id + year",
    "ln_lp ~ i(relnan, ref=-1) | firm_id + year",
    "ln_lp ~ i(rel) | firm_id + year",
    "ln_lp ~ i(rel, x, ref=-1) | firm_id + year",
    "ln_lp ~ i(sec2) + x",
    "ln_lp ~ x + i(sec2, z, ref='a') | firm_id",
    "ln_lp ~ i(rel, ref=-1) + x | firm_id + year",
    "ln_lp ~ x - 1",
    "ln_lp ~ 0 + x + `my col`",
    "log(ln_lp + 10) ~ x | firm_id",
    "ln_lp ~ member | firm_id | x ~ z",
    "ln_lp ~ 1 | firm_id | x ~ z + v",
]


@pytest.mark.parametrize("formula", SAME_FIT)
def test_fit_equals_pyfixest_on_the_same_formula(panel, formula):
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols(
            formula,
            panel,
            vcov={"CRV1": "firm_id"},
            fixef_tol=1e-10,
            ssc=pf.ssc(k_adj=True, k_fixef="nonnested", G_adj=True, G_df="min"),
        )
        res = feols(formula, panel, "cluster", cluster="firm_id")
        iv = build_design(formula, panel)[0].iv
    # computed columns go to the exact fast path; instruments to pyfixest
    assert res.engine == ("fast" if iv is None else "pyfixest")
    assert list(res.params.index) == [str(c) for c in m.coef().index]
    assert res.nobs == m._N
    coef = m.coef().to_numpy()
    floor = FORMULA_SAME_FIT_REL * np.abs(coef).max()
    assert_close(res.params.to_numpy(), coef, rel=FORMULA_SAME_FIT_REL, abs=floor)
    se = m.se().to_numpy()
    assert_close(
        res.std_errors.to_numpy(), se, rel=FORMULA_SAME_FIT_REL, floor=FORMULA_SAME_FIT_REL
    )


def test_engine_routing_is_unchanged(panel):
    assert feols("ln_lp ~ member + x | firm_id + year", panel).engine == "fast"
    assert feols("ln_lp ~ member + `my col` | firm_id", panel).engine == "fast"
    assert feols("ln_lp ~ log(w) | firm_id", panel).engine == "fast"
    assert feols("ln_lp ~ member | firm_id | x ~ z", panel).engine == "pyfixest"
    with pytest.raises(SpecError, match="pyfixest"):
        feols("ln_lp ~ member | firm_id | x ~ z", panel, engine="fast")


def test_computed_columns_equal_independent_arithmetic(panel):
    before = panel.copy()
    f, d = build_design(
        "log(ln_lp + 10) ~ I(x ** 2 - w / 3) + x:w + C(sec2) + i(rel, x, ref=-1) + sqrt(w) | firm_id",
        panel,
    )
    pd.testing.assert_frame_equal(panel, before)  # input untouched
    assert d is not panel and f.generated and not f.simple
    x, w = panel["x"].to_numpy(), panel["w"].to_numpy()
    np.testing.assert_array_equal(d["log(ln_lp + 10)"], np.log(panel["ln_lp"].to_numpy() + 10))
    np.testing.assert_array_equal(d["I(x ** 2 - w / 3)"], x**2 - w / 3)
    np.testing.assert_array_equal(d["x:w"], x * w)
    np.testing.assert_array_equal(d["sqrt(w)"], np.sqrt(w))
    np.testing.assert_array_equal(d["C(sec2)[T.b]"], (panel["sec2"] == "b").to_numpy(float))
    levels = sorted(set(panel["rel"]) - {-1})
    names = [f"rel::{lv}:x" for lv in levels]
    assert [t for t in f.terms if t.startswith("rel::")] == names
    for lv, name in zip(levels, names, strict=True):
        np.testing.assert_array_equal(d[name], (panel["rel"] == lv).to_numpy(float) * x)
    assert f.depvar == "log(ln_lp + 10)" and f.fixed_effects == ("firm_id",)


def test_plain_formula_adds_nothing(panel):
    f, d = build_design("ln_lp ~ member + x | firm_id + sector^year", panel)
    assert d is panel and f.simple and f.terms == ("member", "x")
    assert f.fe_columns() == ["firm_id", "sector", "year"]


def test_non_finite_transform_is_warned_and_left_out(panel):
    n_bad = int((panel["x"] <= 0).sum())
    with pytest.warns(EstimationWarning, match=r"log\(x\) is not finite in \d+ row") as rec:
        res = feols("ln_lp ~ log(x) | firm_id", panel, drop_singletons=False)
    assert f"{n_bad} row(s)" in str(rec[0].message)
    first = panel.index[(panel["x"] <= 0).to_numpy()][0]
    assert f"rows {first}," in str(rec[0].message)
    assert res.exclusions["missing_values"] == n_bad
    assert res.nobs == len(panel) - n_bad
    assert any("log(x)" in w for w in res.warnings)


def test_cli_fe_reports_the_transform_warning(panel, tmp_path, capsys):
    import json

    from clusterimpact.cli import main

    data, out = tmp_path / "panel.csv", tmp_path / "fe.json"
    panel.to_csv(data, index=False)
    argv = ["fe", "--data", str(data), "--formula", "ln_lp ~ log(x) + I(w ** 2) | firm_id"]
    assert main([*argv, "--json", str(out)]) == 0
    js = json.loads(out.read_text())
    assert [e["term"] for e in js["estimates"]] == ["log(x)", "I(w ** 2)"]
    assert any("log(x) is not finite" in w for w in js["warnings"])
    assert "warning: the term log(x) is not finite" in capsys.readouterr().err
    assert main(["fe", "--data", str(data), "--formula", "ln_lp ~ i(sector, ref='9')"]) == 2
    assert "reference level(s) '9'" in capsys.readouterr().err


def test_design_errors_name_column_and_value(panel):
    with pytest.raises(DataError, match="log"):
        build_design("ln_lp ~ log(x - 100)", panel)  # not finite anywhere
    with pytest.raises(SpecError, match="99"):
        build_design("ln_lp ~ i(rel, ref=99)", panel)
    with pytest.raises(SpecError, match="ref='a'"):
        build_design("ln_lp ~ i(sec2, ref=1)", panel)
    with pytest.raises(DataError, match="sec2"):
        build_design("ln_lp ~ I(sec2 * 2)", panel)
    with pytest.raises(DataError, match="nothere"):
        build_design("ln_lp ~ I(nothere ** 2)", panel)
    with pytest.raises(SpecError, match="rename that column"):
        build_design("ln_lp ~ log(w)", panel.assign(**{"log(w)": 1.0}))
    with pytest.raises(SpecError, match="two terms"):
        build_design("ln_lp ~ i(rel) + i(rel, ref=-3)", panel)


# -- matching: our design equals patsy's -----------------------------------------------------------
@pytest.fixture(scope="module")
def cps() -> pd.DataFrame:
    ref = REPO / "tests" / "reference" / "nsw"
    nsw = pd.read_csv(ref / "nsw_dw.csv")
    obs = pd.concat(
        [nsw[nsw["treat"] == 1], pd.read_csv(ref / "cps_controls.csv")], ignore_index=True
    )
    rng = np.random.default_rng(5)
    obs["u74"] = (obs["re74"] == 0).astype(float)
    obs["u75"] = (obs["re75"] == 0).astype(float)
    obs["sec"] = rng.choice(["a", "b", "c"], len(obs))
    obs["flag"] = rng.random(len(obs)) < 0.5
    obs.loc[[3, 40], "age"] = np.nan
    obs.loc[7, "sec"] = None
    return obs


@pytest.mark.parametrize(
    "formula",
    [
        "treat ~ age + I(age**2) + educ + I(educ**2) + marr + nodegree + black + hisp + re74 + re75"
        " + u74 + u75 + educ:re74",
        "treat ~ C(sec) + age",
        "sec + age:sec + flag",
        "0 + C(sec) + educ*re74",
    ],
)
def test_model_matrix_equals_patsy(cps, formula):
    import patsy

    rhs = formula.split("~")[-1]
    ref = patsy.dmatrix(rhs, cps, NA_action="drop", return_type="dataframe")
    ref = ref.drop(columns=[c for c in ref.columns if c == "Intercept"])
    ours = model_matrix(formula, cps)
    assert ours.index.equals(cps.index)
    ours = ours.dropna()
    assert list(ours.columns) == list(ref.columns)
    assert ours.index.equals(ref.index)
    np.testing.assert_array_equal(ours.to_numpy(), ref.to_numpy())


def test_parse_rhs_rejects_fixed_effects():
    assert parse_rhs("age + I(age ** 2)")[1] is True
    with pytest.raises(SpecError, match="fixed effects"):
        parse_rhs("d ~ age | sector")


# -- every formula written in the repository parses --------------------------------------------------
_PATTERNS = [
    re.compile(r"feols\(\s*\"([^\"{}]+~[^\"{}]*)\""),
    re.compile(r"\"--formula\",\s*\"([^\"]+)\""),
    re.compile(r"--formula \"([^\"]+)\""),
    re.compile(r"PS_FORMULA = \(\s*\"([^\"]+)\""),
    re.compile(r"fml = \"([^\"]+)\""),
]


def test_every_formula_in_the_repository_parses():
    files = [
        p
        for d in ("src", "tests", "benchmarks", "notebooks", "docs")
        for p in (REPO / d).rglob("*")
        if p.suffix in (".py", ".md")
        and p.name not in ("test_formula_grammar.py", "test_formula_security.py")
    ] + [REPO / "README.md"]
    found = []
    for p in files:
        text = p.read_text(encoding="utf-8")
        for pat in _PATTERNS:
            found += [m.replace("\\|", "|") for m in pat.findall(text)]
    assert len(found) >= 30  # tests, CLI tests, benchmarks, DESIGN.md
    for formula in found:
        parse_formula(formula)


# -- fuzz: anything either parses or is a SpecError ---------------------------------------------------
_PIECES = [
    *"xyw~+-*/:^|()[],='\"`. 0123456789_eE\n",
    "log(",
    "I(",
    "C(",
    "i(",
    "ref=",
    "exec(",
    "__",
]
_PIECES += ["np.", "lambda ", " ** ", "y ~ ", " | f", "x:w", "`a b`", "'s'", "[1, 2]", "1e999"]
_FUZZ_FRAME = pd.DataFrame(
    {
        "x": [1.0, -2.0, 3.0, 0.0],
        "y": [1.0, 2.0, 0.5, 4.0],
        "w": [2.0, 1.0, 0.0, 3.0],
        "f": list("aabb"),
    }
)


@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(
    st.one_of(st.lists(st.sampled_from(_PIECES), max_size=25).map("".join), st.text(max_size=40))
)
def test_fuzz_parse_or_spec_error(text):
    try:
        p = parse_formula(text)
    except SpecError:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimationWarning)
            build_design(p, _FUZZ_FRAME)
    except (SpecError, DataError):
        pass
