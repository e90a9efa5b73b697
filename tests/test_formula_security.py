"""No code runs from a formula or a study spec (issue #12, security).

Each payload below would write a file if any layer evaluated it; ``I(member + 0*len(str(exec(...))))``
did write one through ``feols`` before our grammar (pyfixest/formulaic evaluated the ``I()`` term). The
payloads carry their Python code as byte values so that no identifier in it looks like a missing column
(the old column check stopped payloads with plain-text paths, not this one). Every entry point must
raise :class:`SpecError` (exit status 2 on the CLI) naming the offending token, and the file must not
exist afterwards: the Python API (``feols``, the membership models, ``match``), the ``fe`` command, and
a study TOML (library and ``report`` command).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "estimation"))
from fe_helpers import make_panel

from clusterimpact.cli import main
from clusterimpact.errors import DataError, SpecError
from clusterimpact.estimation.twfe import feols, static_premium, wild_bootstrap
from clusterimpact.matching import match
from clusterimpact.spec import StudySpec


def _code(target: Path) -> str:
    """``exec(bytes([...]).decode())`` running ``open(target, 'w').write('pwned')``."""
    src = f"open({str(target)!r}, 'w').write('pwned')".encode()
    return f"exec(bytes([{','.join(map(str, src))}]).decode())"


# (regressor part with {run} = the payload, the token the error must name)
PAYLOADS = [
    ("I(member + 0*len(str({run})))", "'len'"),  # the exploit
    ("member + {run}", "'exec'"),
    ("I({run})", "'exec'"),
    ("log(I(member + 0*len(str({run}))))", "'len'"),
    ("member + __import__('os').system('true')", "'__import__'"),
    ("member + os.system('true')", "'.'"),
    ("member + x.__class__.__mro__", "'.'"),
    ("member + I(x.real)", "'.'"),
    ("member + I((lambda: {run})())", "'lambda'"),
    ("member + I(x + len(f'{{{run}}}'))", "'len'"),
    ("member + I(x + len(f'{{x}}'))", "'len'"),
    ("member + f'{{x}}'", "'{x}'"),
    ("member + __builtins__", "'__builtins__'"),
    ("member + getattr(x, 'real')", "'getattr'"),
    ("member + eval('1')", "'eval'"),
    ("member + x[0]", "'['"),
    ("member + C(sector, {run})", "','"),
    ("member + i(sector, ref={run})", "'exec'"),
    ("member + i(sector, x, ref=[1, {run}])", "'exec'"),
    ("member + np.log(x)", "'.'"),
    ("member + x; import os", "';'"),
]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel(n_firms=60, n_years=6, seed=2)


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "pwned.txt"


def _formulas(target: Path) -> list[tuple[str, str]]:
    run = _code(target)
    out = [(f"ln_lp ~ {p.format(run=run)} | firm_id + year", tok) for p, tok in PAYLOADS]
    out += [
        (f"ln_lp ~ member | firm_id + {run}", "'exec'"),  # fixed effects
        (f"ln_lp ~ member | firm_id | x ~ I(w + 0*len(str({run})))", "'len'"),  # instruments
        (f"I(ln_lp + 0*len(str({run}))) ~ member | firm_id", "'len'"),  # outcome
    ]
    return out


@pytest.mark.parametrize("engine", ["auto", "pyfixest"])
def test_api_feols_never_evaluates(panel, target, engine):
    for formula, token in _formulas(target):
        with pytest.raises(SpecError) as exc:
            feols(formula, panel, engine=engine)
        assert token in str(exc.value), (formula, str(exc.value))
        assert re.search(r"at position \d+", str(exc.value))
        assert not target.exists(), formula


def test_api_other_front_doors_never_evaluate(panel, target):
    run = _code(target)
    with pytest.raises(SpecError, match="'len'"):
        wild_bootstrap(
            f"ln_lp ~ I(member + 0*len(str({run}))) | firm_id", panel, "member", cluster="firm_id"
        )
    # the membership models take column names: an expression is a missing column
    with pytest.raises(DataError, match="missing required column"):
        static_premium(panel, "ln_lp", controls=[run])
    with pytest.raises(SpecError, match="'exec'"):
        static_premium(panel, "ln_lp", fe=["firm_id", run])
    assert not target.exists()


def test_matching_formula_never_evaluates(panel, target, monkeypatch):
    import patsy

    def refuse(*args, **kwargs):
        raise AssertionError("patsy must not see the formula")

    monkeypatch.setattr(patsy, "dmatrix", refuse)
    run = _code(target)
    for rhs, token in [
        (f"member ~ x + I(w + 0*len(str({run})))", "'len'"),
        (f"x + {run}", "'exec'"),
        ("x + __import__('os').system('true')", "'__import__'"),
    ]:
        with pytest.raises(SpecError, match=re.escape(token)):
            match(panel, "member", formula=rhs, outcome="ln_lp")
    assert not target.exists()
    # a legitimate formula still works without patsy
    res = match(panel, "member", formula="member ~ x + I(x ** 2) + C(sector)", outcome="ln_lp")
    assert res.nobs > 0


def test_pyfixest_receives_generated_names_only(panel, monkeypatch):
    import pyfixest as pf

    seen: list[tuple[str, list[str]]] = []
    real = pf.feols

    def spy(fml, data, *args, **kwargs):
        seen.append((fml, list(data.columns)))
        return real(fml, data, *args, **kwargs)

    monkeypatch.setattr(pf, "feols", spy)
    rng = np.random.default_rng(3)
    d = panel.assign(half=np.where(rng.random(len(panel)) < 0.5, "a", "b"))
    res = feols(
        "log(ln_lp + 10) ~ I(x ** 2) + log(w) + x:w + C(half) + i(member_years, ref=0)"
        " | firm_id + year",
        d,
        "cluster",
        cluster="firm_id",
        weights="w",
        engine="pyfixest",
    )
    ((fml, cols),) = seen
    assert re.fullmatch(r"civ\d+ ~ civ\d+( \+ civ\d+)* \| civ\d+ \+ civ\d+", fml), fml
    assert all(re.fullmatch(r"civ\d+", c) for c in cols)
    assert {"I(x ** 2)", "x:w", "C(half)[T.b]", "member_years::1"} <= set(res.params.index)
    assert res.depvar == "log(ln_lp + 10)"


def _csv(panel: pd.DataFrame, tmp_path: Path) -> Path:
    p = tmp_path / "panel.csv"
    panel.to_csv(p, index=False)
    return p


def test_cli_fe_exits_2_and_never_evaluates(panel, tmp_path, target, capsys):
    data = _csv(panel, tmp_path)
    out = tmp_path / "fe.json"
    for formula, token in _formulas(target):
        argv = ["fe", "--data", str(data), "--formula", formula, "--json", str(out)]
        assert main(argv) == 2, formula
        err = capsys.readouterr().err
        assert "clusterimpact fe: error:" in err and token in err, err
        assert "Traceback" not in err
        assert not target.exists() and not out.exists()


def test_cli_fe_bad_formula_fails_before_reading_data(tmp_path, capsys):
    missing = tmp_path / "no_such_file.csv"
    assert main(["fe", "--data", str(missing), "--formula", "y ~ exec(1)"]) == 2
    assert "'exec' at position 5" in capsys.readouterr().err


@pytest.mark.parametrize(
    "formula,message",
    [
        ("ln_lp ~ " + "(" * 50_000 + "x" + ")" * 50_000, "limit is"),
        ("ln_lp ~ " + "(" * 5_000 + "x" + ")" * 5_000, "levels deep"),
        ("ln_lp ~ I(" + "-" * 9_000 + "x)", "levels deep"),
        ("ln_lp ~ I(" + "+".join(["x"] * 5_000) + ")", "operations deep"),
        ("ln_lp ~ " + "*".join(f"x{j}" for j in range(40)), "more than"),
    ],
    ids=["long", "nested", "unary", "chain", "explosion"],
)
def test_long_and_nested_input_is_a_clear_error(panel, tmp_path, capsys, formula, message):
    with pytest.raises(SpecError, match=message):
        feols(formula, panel)
    assert main(["fe", "--data", str(_csv(panel, tmp_path)), "--formula", formula]) == 2
    err = capsys.readouterr().err
    assert message in err and "RecursionError" not in err and len(err) < 600


def _spec(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "study.toml"
    p.write_text('title = "t"\n' + body, encoding="utf-8")
    return p


def _toml_cases(target: Path) -> list[tuple[str, str]]:
    run = _code(target).replace('"', '\\"')
    return [
        (f'[matching]\ncovariates = ["ln_lp", "I(ln_lp + 0*len(str({run})))"]\n', "'('"),
        ("[matching]\ncovariates = [\"__import__('os').system('true')\"]\n", "'__import__'"),
        (f'[matching]\ndesign = "trends"\nexact = ["sector", "{run}"]\n', "'('"),
        ('[matching]\ncovariates = ["age"]\ntrends = ["os.system"]\n', "'.'"),
        ('[matching]\ncovariates = ["age"]\npre_means = ["log(emp)"]\n', "'('"),
        (f'[estimation]\ncluster = "{run}"\n', "'('"),
        ('[estimation]\ncluster = "firm_id + year"\n', "'+'"),
    ]


def test_study_toml_holds_no_expressions(tmp_path, target, capsys):
    for body, token in _toml_cases(target):
        path = _spec(tmp_path, body)
        with pytest.raises(SpecError) as exc:
            StudySpec.from_toml(path)
        msg = str(exc.value)
        assert "study.toml" in msg and token in msg and "entry" in msg, msg
        out = tmp_path / "report"
        assert main(["report", "--spec", str(path), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert token in err and "Traceback" not in err
        assert not target.exists() and not out.exists()


def test_study_toml_column_names_still_accepted(tmp_path):
    s = StudySpec.from_toml(
        _spec(
            tmp_path,
            '[matching]\ncovariates = ["ln_lp", "`odd name`"]\nexact = ["sector"]\n'
            '[estimation]\ncluster = "firm_id"\n',
        )
    )
    assert s.matching.covariates == ("ln_lp", "odd name")
    assert s.estimation.cluster == "firm_id"
