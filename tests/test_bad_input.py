"""Bad input across the CLI, the study TOML and the API (issue #12): exit status 2 or the named error,
a message naming the file, the column and the 1-based data rows, nothing written, and, where a panel is
built, rows in = rows kept + rows excluded.

Most CLI cases call ``main(argv)`` in-process (cheap); ``test_real_exit_status`` runs a few through
``python -m clusterimpact`` to check the process exit status itself. Row numbers are computed here from
the positions the fixtures spoil (data row = position + 1, the header not counted), never read back
from the code under test.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clusterimpact.cli import main
from clusterimpact.errors import DataError, OutputError, PanelError, SpecError

# positions (0-based) the fixtures spoil, and the 1-based data rows a message must name
BAD_LP = [2, 5]
BAD_YEAR = [7]
BAD_VA = [1, 4]
BAD_EMP = [6]


def rows(positions: list[int]) -> str:
    return "rows " + ", ".join(str(p + 1) for p in positions)


@pytest.fixture(scope="module")
def f(tmp_path_factory) -> dict[str, str]:
    """Input files (good and spoiled) and places for outputs; paths as strings."""
    from clusterimpact.panel import build_panel
    from clusterimpact.synthetic import simulate

    d = tmp_path_factory.mktemp("bad_input")
    sd = simulate("ecoom", seed=2, n_firms=150, start_year=2010, end_year=2017)
    acc = sd.accounts.reset_index(drop=True)
    reg = sd.registry.reset_index(drop=True)
    p: dict[str, Path] = {}

    def w(name: str, df: pd.DataFrame) -> None:
        p[name] = d / f"{name}.csv"
        df.to_csv(p[name], index=False)

    w("acc", acc)
    w("reg", reg)
    p["regx"] = d / "r.exclusions.csv"  # the name `build --out r.parquet` gives its exclusion log
    reg.to_csv(p["regx"], index=False)
    panel = build_panel(p["acc"], p["reg"]).data.reset_index(drop=True)
    w("panel", panel)
    bad = panel.astype({"ln_lp": object, "year": object})
    bad.loc[BAD_LP, "ln_lp"] = "abc"
    bad.loc[BAD_YEAR, "year"] = "20x1"
    w("bad2", bad)
    badco = panel.astype({"treat_year": object})
    badco.loc[3, "treat_year"] = "2015x"
    w("badco", badco)
    w("dup", pd.concat([panel, panel.iloc[[0]]]))
    inf = panel.copy()
    inf.loc[4, "ln_lp"] = np.inf
    w("inf", inf)
    strtreat = panel.copy()
    strtreat["ln_kl"] = strtreat["ln_kl"].astype(object)
    strtreat.loc[[9], "ln_kl"] = "high"
    w("strcov", strtreat)
    a = acc.astype({"va": object, "emp": object})
    a.loc[BAD_VA, "va"] = "x1"
    a.loc[BAD_EMP, "emp"] = "ten"
    w("acc_bad2", a)
    a = acc.copy()
    a.loc[[1, 2], "va"] = -5.0
    a.loc[3, "va"] = 0.0
    w("acc_negva", a)
    w("acc_dup", pd.concat([acc, acc.iloc[[0]].assign(va=1.0)]))
    w("acc_miss", acc.drop(columns=["va", "emp"]))
    a = acc.astype({"firm_id": object})
    a.loc[[0, 1], "firm_id"] = "0123456789"  # fails the mod-97 check
    w("acc_kbo", a)
    a = acc.astype({"year": object})
    a.loc[[5], "year"] = 2015.5
    w("acc_year", a)
    a = acc.copy()
    a.loc[[8], "year"] = 3015
    w("acc_range", a)
    r = reg.astype({"join_date": object})
    r.loc[0, "join_date"] = "someday"
    w("reg_date", r)
    r = reg.copy()
    r.loc[0, "exit_date"] = "2001-01-01"
    w("reg_after", r)
    r = reg.astype({"cluster": object})
    r.loc[1, "cluster"] = ""
    w("reg_blank", r)
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("firm_id,year,ln_lp\n")
    (d / "notes.xyz").write_text("a,b\n1,2\n")
    (d / "afile").write_text("a regular file, not a folder\n")
    (d / "folder").mkdir()
    toml = d / "toml"
    toml.mkdir()
    for name, text in _TOML.items():
        (toml / f"{name}.toml").write_text(text.format(**{k: v.as_posix() for k, v in p.items()}))
    out = {k: str(v) for k, v in p.items()}
    out.update(
        {
            "dir": str(d),
            "empty": str(d / "empty.csv"),
            "header": str(d / "header.csv"),
            "xyz": str(d / "notes.xyz"),
            "afile": str(d / "afile"),
            "folder": str(d / "folder"),
            "missing": str(d / "missing.csv"),
            "toml": str(toml),
            "out": str(d / "outputs"),
        }
    )
    return out


_TINY = '[outcomes]\ntfp_methods = []\n[estimation]\nestimators = ["twfe"]\n[bootstrap]\ndid_draws = 0\n'
_TOML = {
    "syntax": 'title = "x\n[data]\n',
    "unknown_key": '[data]\nsource = "simulate"\nn_firm = 100\n',
    "bad_type": 'seed = "one"\n',
    "bad_choice": '[matching]\nmethod = "closest"\n',
    "bad_section": '[estimations]\nestimators = ["twfe"]\n',
    "files_missing_registry": '[data]\nsource = "files"\naccounts = "{acc}"\n',
    "files_not_found": '[data]\nsource = "files"\naccounts = "nowhere.csv"\nregistry = "{reg}"\n'
    + _TINY,
    "files_bad_values": '[data]\nsource = "files"\naccounts = "{acc_bad2}"\nregistry = "{reg}"\n'
    + _TINY,
    "files_bad_dates": '[data]\nsource = "files"\naccounts = "{acc}"\nregistry = "{reg_date}"\n'
    + _TINY,
    "files_dup": '[data]\nsource = "files"\naccounts = "{acc_dup}"\nregistry = "{reg}"\n' + _TINY,
    "files_ok": '[data]\nsource = "files"\naccounts = "{acc}"\nregistry = "{reg}"\n' + _TINY,
}


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with its status (argparse's SystemExit too), stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


@dataclass(frozen=True)
class Case:
    """A command line (``{name}`` placeholders are fixture paths) and what its error must say."""

    argv: str
    says: tuple[str, ...]
    not_written: tuple[str, ...] = ()  # outputs that must not exist afterwards


P = "--data {panel}"
CLI_CASES: dict[str, Case] = {
    # did: columns, values, files
    "did-missing-outcome": Case(f"did {P} --outcome nope", ("{panel}", "column 'nope'")),
    "did-missing-several": Case(
        f"did {P} --outcome nope --covariates a1,b2", ("nope", "a1", "b2", "{panel}")
    ),
    "did-two-bad-columns": Case(
        "did --data {bad2} --outcome ln_lp",
        (
            "{bad2}",
            "2 problems",
            f"column 'year', {rows(BAD_YEAR)}",
            f"column 'ln_lp', {rows(BAD_LP)}",
        ),
    ),
    "did-imputation-two-bad-columns": Case(
        "did --data {bad2} --outcome ln_lp --method imputation",
        (f"column 'year', {rows(BAD_YEAR)}", f"column 'ln_lp', {rows(BAD_LP)}"),
    ),
    "did-infinite-outcome": Case(
        "did --data {inf} --outcome ln_lp", ("{inf}", "column 'ln_lp', rows 5", "infinite")
    ),
    "did-bad-cohort": Case(
        "did --data {badco} --outcome ln_lp", ("{badco}", "column 'treat_year', rows 4")
    ),
    "did-duplicate-firm-years": Case(
        "did --data {dup} --outcome ln_lp", ("{dup}", "duplicate", "rows 1, ")
    ),
    "did-empty-file": Case("did --data {empty} --outcome ln_lp", ("{empty}",)),
    "did-header-only": Case("did --data {header} --outcome ln_lp", ("{header}", "no data rows")),
    "did-unknown-extension": Case("did --data {xyz} --outcome ln_lp", ("{xyz}", "unknown file")),
    "did-missing-file": Case("did --data {missing} --outcome ln_lp", ("{missing}", "not found")),
    "did-data-is-folder": Case("did --data {folder} --outcome ln_lp", ("{folder}",)),
    "did-bad-level": Case(f"did {P} --outcome ln_lp --level 2", ("--level",)),
    "did-json-under-a-file": Case(
        f"did {P} --outcome ln_lp --json {{afile}}/r.json", ("{afile}", "not a folder")
    ),
    "did-json-in-proc": Case(
        f"did {P} --outcome ln_lp --json /proc/clusterimpact/r.json", ("/proc/clusterimpact",)
    ),
    "did-json-is-a-folder": Case(f"did {P} --outcome ln_lp --json {{folder}}", ("is a folder",)),
    "did-json-is-the-input": Case(
        f"did {P} --outcome ln_lp --json {{panel}}", ("--json is the input", "{panel}")
    ),
    "did-unknown-option": Case(f"did {P} --outcome ln_lp --bogus 1", ("--bogus",)),
    "did-unknown-method": Case(f"did {P} --outcome ln_lp --method magic", ("magic",)),
    "did-not-an-integer": Case(f"did {P} --outcome ln_lp --n-boot many", ("many",)),
    "did-missing-cluster-and-bad-weights": Case(
        "did --data {strcov} --outcome ln_lp --cluster region2 --weights ln_kl",
        ("region2", "column 'ln_kl', rows 10", "2 problems"),
    ),
    # duration
    "duration-two-bad-columns": Case(
        "duration --data {bad2} --outcome ln_lp",
        (f"column 'ln_lp', {rows(BAD_LP)}", f"column 'year', {rows(BAD_YEAR)}", "{bad2}"),
    ),
    "duration-bad-bins": Case(f"duration {P} --outcome ln_lp --bins 1,x", ("bin 'x'",)),
    "duration-missing-member-column": Case(
        f"duration {P} --outcome ln_lp --member nope", ("{panel}", "nope")
    ),
    # fe
    "fe-formula-column-missing": Case(
        f"fe {P} --formula 'ln_lp ~ nope | firm_id'", ("{panel}", "nope")
    ),
    "fe-malformed-formula": Case(f"fe {P} --formula 'ln_lp member'", ("formula",)),
    "fe-cluster-needs-flag": Case(
        f"fe {P} --formula 'ln_lp ~ member | firm_id' --vcov cluster", ("needs --cluster",)
    ),
    "fe-missing-weights-and-cluster": Case(
        f"fe {P} --formula 'ln_lp ~ member | firm_id' --vcov cluster --cluster c9 --weights w9",
        ("c9", "w9", "{panel}"),
    ),
    # tfp
    "tfp-missing-columns": Case(
        f"tfp {P} --output nope --free ln_emp,nope2 --method ols --logged", ("nope", "nope2")
    ),
    "tfp-non-numeric-year": Case(
        "tfp --data {bad2} --output ln_va --free ln_emp --method ols --logged",
        ("{bad2}", f"column 'year', {rows(BAD_YEAR)}"),
    ),
    "tfp-out-is-the-input": Case(
        f"tfp {P} --output ln_va --free ln_emp --method ols --logged --out {{panel}}",
        ("--out is the input",),
    ),
    "tfp-out-unknown-extension": Case(
        f"tfp {P} --output ln_va --free ln_emp --method ols --logged --out {{out}}/t.xyz",
        ("unknown file type",),
        ("{out}/t.xyz",),
    ),
    "tfp-out-under-a-file": Case(
        f"tfp {P} --output ln_va --free ln_emp --method ols --logged --out {{afile}}/t.csv",
        ("not a folder",),
    ),
    "tfp-acf-needs-state": Case(
        f"tfp {P} --output ln_va --free ln_emp --method acf --logged", ("needs --state",)
    ),
    # match
    "match-missing-covariate": Case(
        f"match {P} --treatment ever_member --covariates ln_emp,nope", ("nope", "{panel}")
    ),
    "match-non-numeric-covariate": Case(
        "match --data {strcov} --treatment ever_member --covariates ln_emp,ln_kl",
        ("{strcov}", "column 'ln_kl', rows 10"),
    ),
    "match-treatment-not-binary": Case(
        f"match {P} --treatment ln_emp --covariates ln_kl", ("{panel}", "column 'ln_emp'", "0/1")
    ),
    "match-panel-bad-cohort": Case(
        "match --panel --data {badco} --covariates ln_lp,ln_emp",
        ("{badco}", "column 'treat_year', rows 4"),
    ),
    "match-stacked-out-is-the-input": Case(
        f"match --panel {P} --design trends --stacked-out {{panel}}",
        ("--stacked-out is the input",),
    ),
    "match-stacked-out-under-a-file": Case(
        f"match --panel {P} --design trends --stacked-out {{afile}}/s.csv", ("not a folder",)
    ),
    "match-design-needs-panel": Case(f"match {P} --design trends", ("--design needs --panel",)),
    # build / validate
    "build-two-bad-columns": Case(
        "build --accounts {acc_bad2} --registry {reg} --out {out}/b1.csv",
        ("{acc_bad2}", f"column 'va', {rows(BAD_VA)}", f"column 'emp', {rows(BAD_EMP)}"),
        ("{out}/b1.csv", "{out}/b1.exclusions.csv"),
    ),
    "build-missing-columns": Case(
        "build --accounts {acc_miss} --registry {reg} --out {out}/b2.csv",
        ("{acc_miss}", "va, emp"),
        ("{out}/b2.csv",),
    ),
    "build-duplicate-firm-years": Case(
        "build --accounts {acc_dup} --registry {reg} --out {out}/b3.csv",
        ("{acc_dup}", "rows 1, ", "--duplicates first"),
        ("{out}/b3.csv",),
    ),
    "build-non-whole-year": Case(
        "build --accounts {acc_year} --registry {reg} --out {out}/b4.csv",
        ("{acc_year}", "column 'year', rows 6"),
    ),
    "build-year-out-of-range": Case(
        "build --accounts {acc_range} --registry {reg} --out {out}/b5.csv",
        ("{acc_range}", "column 'year', rows 9", "3015"),
    ),
    "build-registry-bad-date": Case(
        "build --accounts {acc} --registry {reg_date} --out {out}/b6.csv",
        ("{reg_date}", "column 'join_date', rows 1", "someday"),
    ),
    "build-registry-join-after-exit": Case(
        "build --accounts {acc} --registry {reg_after} --out {out}/b7.csv",
        ("{reg_after}", "rows 1", "after exit"),
    ),
    "build-registry-blank-cluster": Case(
        "build --accounts {acc} --registry {reg_blank} --out {out}/b8.csv",
        ("{reg_blank}", "column 'cluster', rows 2"),
    ),
    "build-missing-accounts-file": Case(
        "build --accounts {missing} --registry {reg} --out {out}/b9.csv", ("{missing}",)
    ),
    "build-out-is-the-registry": Case(
        "build --accounts {acc} --registry {reg} --out {reg}", ("--out is the input",)
    ),
    "build-exclusions-is-the-accounts": Case(
        "build --accounts {acc} --registry {reg} --out {out}/b10.csv --exclusions {acc}",
        ("--exclusions is the input",),
        ("{out}/b10.csv",),
    ),
    "build-derived-exclusion-log-is-an-input": Case(
        "build --accounts {acc} --registry {regx} --out {dir}/r.parquet",
        ("the exclusion log", "is the input", "{regx}"),
        ("{dir}/r.parquet",),
    ),
    "build-json-equals-out": Case(
        "build --accounts {acc} --registry {reg} --out {out}/b11.csv --json {out}/b11.csv",
        ("name the same path",),
        ("{out}/b11.csv",),
    ),
    "build-out-unknown-extension": Case(
        "build --accounts {acc} --registry {reg} --out {out}/b12", ("unknown file type",)
    ),
    "build-out-under-a-file": Case(
        "build --accounts {acc} --registry {reg} --out {afile}/b13.csv", ("not a folder",)
    ),
    "build-malformed-column-map": Case(
        "build --accounts {acc} --registry {reg} --out {out}/b14.csv --columns nonsense",
        ("--columns", "nonsense"),
    ),
    "build-start-after-end": Case(
        "build --accounts {acc} --registry {reg} --out {out}/b15.csv --start 2015 --end 2012",
        ("2015", "2012"),
    ),
    "build-unknown-preset": Case(
        "build --accounts {acc} --registry {reg} --out {out}/b16.csv --preset orbis", ("orbis",)
    ),
    "validate-reports-every-file": Case(
        "validate --accounts {acc_bad2} --registry {reg_date}",
        ("{acc_bad2}", "column 'va'", "column 'emp'", "{reg_date}", "column 'join_date'"),
    ),
    # synth
    "synth-out-is-a-file": Case("synth --out {afile} --n-firms 60", ("is a file",)),
    "synth-out-in-proc": Case("synth --out /proc/clusterimpact --n-firms 60", ("/proc",)),
    # report and the study TOML
    "report-spec-missing": Case("report --spec {missing}", ("{missing}", "does not exist")),
    "report-spec-not-toml": Case("report --spec {toml}/syntax.toml", ("not valid TOML",)),
    "report-spec-unknown-key": Case("report --spec {toml}/unknown_key.toml", ("n_firm",)),
    "report-spec-bad-type": Case("report --spec {toml}/bad_type.toml", ("seed",)),
    "report-spec-bad-choice": Case("report --spec {toml}/bad_choice.toml", ("closest", "nearest")),
    "report-spec-unknown-section": Case("report --spec {toml}/bad_section.toml", ("estimations",)),
    "report-spec-files-without-registry": Case(
        "report --spec {toml}/files_missing_registry.toml", ("registry",)
    ),
    "report-input-not-found": Case(
        "report --spec {toml}/files_not_found.toml --out {out}/r1",
        ("nowhere.csv", "does not exist"),
        ("{out}/r1",),
    ),
    "report-bad-values": Case(
        "report --spec {toml}/files_bad_values.toml --out {out}/r2 --quiet",
        ("{acc_bad2}", f"column 'va', {rows(BAD_VA)}", f"column 'emp', {rows(BAD_EMP)}"),
        ("{out}/r2",),
    ),
    "report-bad-registry-dates": Case(
        "report --spec {toml}/files_bad_dates.toml --out {out}/r3 --quiet",
        ("{reg_date}", "column 'join_date', rows 1"),
        ("{out}/r3",),
    ),
    "report-duplicate-firm-years": Case(
        "report --spec {toml}/files_dup.toml --out {out}/r4 --quiet",
        ("{acc_dup}", "rows 1, ", 'duplicates = "first"'),
        ("{out}/r4",),
    ),
    "report-out-is-a-file": Case(
        "report --spec {toml}/files_ok.toml --out {afile}", ("is a file",)
    ),
    "report-out-is-an-input": Case(
        "report --spec {toml}/files_ok.toml --out {acc}", ("is a file",)
    ),
    "report-out-contains-the-inputs": Case(
        "report --spec {toml}/files_ok.toml --out {dir}", ("contains the input",)
    ),
    "report-out-is-the-spec-folder": Case(
        "report --spec {toml}/files_ok.toml --out {toml}", ("contains the input",)
    ),
    "report-out-under-a-file": Case(
        "report --spec {toml}/files_ok.toml --out {afile}/rep", ("not a folder",)
    ),
    "report-json-under-a-file": Case(
        "report --spec {toml}/files_ok.toml --out {out}/r5 --json {afile}/r.json",
        ("not a folder",),
        ("{out}/r5",),
    ),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_bad_input_exits_2(name, f):
    case = CLI_CASES[name]
    status, _, err = run_cli(shlex.split(case.argv.format(**f)))
    assert status == 2, err
    assert "Traceback" not in err
    for text in case.says:
        assert text.format(**f) in err, (text.format(**f), err)
    for path in case.not_written:
        assert not Path(path.format(**f)).exists(), path
    leftovers = [p.name for p in Path(f["dir"]).rglob(".*") if "tmp" in p.name]
    assert not leftovers, leftovers  # no temporary file or staging folder left behind


# -- exclusions instead of errors: rows in = kept + excluded, every excluded row named ---------------
def _build(f, tmp_path, accounts, *extra):
    js = tmp_path / "b.json"
    out = tmp_path / "p.csv"
    status, _, err = run_cli(
        ["build", "--accounts", f[accounts], "--registry", f["reg"], "--out", str(out),
         "--json", str(js), *extra]
    )  # fmt: skip
    assert status == 0, err
    summary = json.loads(js.read_text())
    log = pd.read_csv(tmp_path / "p.exclusions.csv")
    assert summary["rows_in"] == len(pd.read_csv(f[accounts]))
    assert summary["rows_in"] == summary["nobs"] + sum(summary["exclusions"].values())
    assert summary["nobs"] == len(pd.read_csv(out))
    assert len(log) == sum(summary["exclusions"].values())
    return summary, log


def test_nonpositive_value_added_is_excluded_by_row(f, tmp_path):
    summary, log = _build(f, tmp_path, "acc_negva")
    excluded = log.loc[log["reason"] == "nonpositive_va"]
    assert sorted(excluded["row"]) == [2, 3, 4]  # positions 1, 2, 3 of the file
    assert set(excluded["source"]) == {f["acc_negva"]}


def test_bad_enterprise_numbers_are_excluded_by_row(f, tmp_path):
    summary, log = _build(f, tmp_path, "acc_kbo", "--exclude-bad-ids")
    bad = log.loc[log["firm_id"].astype(str).str.contains("123456789")]
    assert sorted(bad["row"]) == [1, 2] and len(bad) == 2


def test_duplicates_first_keeps_one_and_counts_the_other(f, tmp_path):
    summary, log = _build(f, tmp_path, "acc_dup", "--duplicates", "first")
    assert len(log) == 1
    assert int(log["row"].iloc[0]) == len(pd.read_csv(f["acc_dup"]))  # the appended copy


# -- API -------------------------------------------------------------------------------------------
def test_api_build_panel_names_every_bad_column(f):
    from clusterimpact.panel import build_panel

    with pytest.raises(DataError) as exc:
        build_panel(f["acc_bad2"], f["reg"])
    msg = str(exc.value)
    assert f["acc_bad2"] in msg
    assert f"column 'va', {rows(BAD_VA)}" in msg and f"column 'emp', {rows(BAD_EMP)}" in msg
    assert exc.value.column == "va, emp"


def test_api_duplicate_firm_years_are_a_panel_error(f):
    from clusterimpact.panel import build_panel

    n = len(pd.read_csv(f["acc_dup"]))
    with pytest.raises(PanelError, match=rf"rows 1, {n}\b"):
        build_panel(f["acc_dup"], f["reg"])


def test_api_registry_join_after_exit(f):
    from clusterimpact.io import read_registry

    with pytest.raises(PanelError, match="join date after exit date") as exc:
        read_registry(f["reg_after"])
    assert exc.value.rows == [1] and f["reg_after"] in str(exc.value)


def test_api_require_numeric_names_every_column():
    from clusterimpact._validation import require_numeric

    df = pd.DataFrame({"a": ["1", "x"], "b": [1.0, 2.0], "c": ["y", "2"]}, index=[1, 2])
    with pytest.raises(DataError) as exc:
        require_numeric(df, ["a", "b", "c"], source="f.csv")
    assert str(exc.value).startswith("f.csv: 2 problems")
    assert "column 'a', rows 2" in str(exc.value) and "column 'c', rows 1" in str(exc.value)


def test_api_att_gt_missing_column(f):
    from clusterimpact.estimation.staggered import att_gt

    with pytest.raises(DataError, match="nope"):
        att_gt(pd.read_csv(f["panel"]), "nope", cohort="treat_year")


def test_api_spec_from_dict_rejects_unknown_keys():
    from clusterimpact.spec import StudySpec

    with pytest.raises(SpecError, match="n_firm"):
        StudySpec.from_dict({"data": {"source": "simulate", "n_firm": 100}})


def test_api_report_refuses_an_input_as_output(f):
    from clusterimpact.report import report

    spec = Path(f["toml"]) / "files_ok.toml"
    with pytest.raises(OutputError, match="contains the input"):
        report(spec, out=Path(f["dir"]), progress=False)
    with pytest.raises(OutputError, match="is the input"):
        report(spec, out=spec, progress=False)


def test_api_report_bad_data_raises_and_writes_nothing(f, tmp_path):
    from clusterimpact.report import report

    with pytest.raises(DataError, match=r"column 'va', rows 2, 5"):
        report(Path(f["toml"]) / "files_bad_values.toml", out=tmp_path / "r", progress=False)
    assert list(tmp_path.iterdir()) == []  # no report folder, no staging folder


def test_api_write_table_under_a_file_is_an_output_error(f, tmp_path):
    from clusterimpact.io import write_table

    with pytest.raises(OutputError, match="not a folder|is a file"):
        write_table(pd.DataFrame({"a": [1]}), Path(f["afile"]) / "x.csv")


def test_api_check_output_refuses_proc_and_inputs(f):
    from clusterimpact._outputs import check_output

    with pytest.raises(OutputError, match="/proc"):
        check_output("/proc/clusterimpact/x.json")
    with pytest.raises(OutputError, match="is inside the input"):
        check_output(Path(f["toml"]) / "x.json", inputs=[f["toml"]])


# -- what the CLI prints: warnings once, in flag syntax --------------------------------------------
def test_warnings_are_printed_once_in_cli_syntax(f):
    import warnings

    from clusterimpact.cli import build_parser

    argv = ["did", "--data", f["panel"], "--outcome", "ln_lp", "--method", "imputation"]
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as raw, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        args.func(args)
    distinct = {str(w.message) for w in raw}
    assert len(raw) > len(distinct)  # the library repeats itself here: each aggregation warns
    status, _, err = run_cli(argv)
    assert status == 0, err
    printed = [ln.removeprefix("warning: ") for ln in err.splitlines() if ln.startswith("warning:")]
    assert sorted(printed) == sorted(distinct)
    status, _, err = run_cli(["did", "--data", f["panel"], "--outcome", "ln_lp"])
    assert status == 0, err
    assert "--allow-unbalanced" in err and "allow_unbalanced=True" not in err


def test_cli_syntax_translation_table():
    from clusterimpact.cli._common import cli_syntax

    flags = {"--allow-unbalanced", "--control", "--method", "--metric", "--replace", "--n-boot"}
    text = (
        "pass allow_unbalanced=True; try control='notyet'; use method='cem' / "
        "distance='mahalanobis'; needs replace=True; n_boot=999; keep missing_covariates=5"
    )
    assert cli_syntax(text, flags) == (
        "pass --allow-unbalanced; try --control notyet; use --method cem / --metric mahalanobis; "
        "needs --replace; --n-boot 999; keep missing_covariates=5"
    )
    assert cli_syntax(text, ()) == text  # the API keeps its own syntax


def test_written_files_get_normal_permissions(f, tmp_path):
    from clusterimpact._outputs import FILE_MODE

    js = tmp_path / "r.json"
    status, _, err = run_cli(
        ["tfp", "--data", f["panel"], "--output", "ln_va", "--free", "ln_emp", "--method", "ols",
         "--logged", "--out", str(tmp_path / "t.csv"), "--json", str(js)]
    )  # fmt: skip
    assert status == 0, err
    for p in (js, tmp_path / "t.csv"):
        assert p.stat().st_mode & 0o777 == FILE_MODE, oct(p.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "t.csv"]


# -- the real process exit status ------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        "did --data {bad2} --outcome ln_lp",
        "tfp --data {panel} --output ln_va --free ln_emp --method ols --logged --out {panel}",
        "report --spec {toml}/files_bad_values.toml --out {out}/sub --quiet",
        "did --data {panel} --outcome ln_lp --no-such-flag",
    ],
)
def test_real_exit_status(argv, f):
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "clusterimpact", *shlex.split(argv.format(**f))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error" in proc.stderr
