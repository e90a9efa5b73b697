"""The study TOML route for inputs: reading options, the three column maps, the KBO rule with the NBB
preset, and the report's own load + panel steps on files held the Belgian way."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.errors import DataError, DataWarning, SpecError
from clusterimpact.report._data_steps import step_load, step_panel
from clusterimpact.report._study import Study
from clusterimpact.spec import DataSpec, StudySpec
from tolerances import ELEMENTWISE_REL


def _spec(tmp_path: Path, data: str) -> StudySpec:
    p = tmp_path / "study.toml"
    p.write_text(f'title = "t"\n[data]\nsource = "files"\n{data}', encoding="utf-8")
    return StudySpec.from_toml(p)


def _panel(spec: StudySpec):
    study = Study(spec=spec)
    step_load(study)
    message = step_panel(study)
    return study.panel, message


def test_reading_options_and_maps_parse_and_round_trip(tmp_path):
    s = _spec(
        tmp_path,
        'accounts = "a.csv"\nregistry = "r.xlsx#leden"\ndecimal = ","\nencoding = "cp1252"\n'
        'sheet = "accounts"\n[data.registry_columns]\nfirm_id = "KBO"\n'
        '[data.deflator_columns]\ndeflator = "ppi"\ndeflator_capital = "ppi_k"\n',
    )
    d = s.data
    assert (d.decimal, d.encoding, d.sheet) == (",", "cp1252", "accounts")
    assert dict(d.registry_columns) == {"firm_id": "KBO"}
    assert dict(d.deflator_columns) == {"deflator": "ppi", "deflator_capital": "ppi_k"}
    assert d.registry == tmp_path / "r.xlsx#leden"
    assert StudySpec.from_record(s.to_dict()) == s


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('decimal = ";"\n', r"\[data\] decimal=';' is not valid; choose one of None, '\.', ','"),
        ('encoding = "klingon"\n', r"\[data\] encoding='klingon' is not a known text encoding"),
        ('[data.registry_columns]\nemp = "fte"\n', r"\[data.registry_columns\] column role='emp'"),
        ('[data.deflator_columns]\ndeflator_foo = "x"\n', r"column role='deflator_foo'"),
        ("[data.deflator_columns]\ndeflator = 3\n", r"must map role names to column names"),
        ('preset = "orbis"\n', r"preset='orbis' is not valid"),
    ],
)
def test_bad_input_settings_are_spec_errors(tmp_path, data, message):
    with pytest.raises(SpecError, match=message):
        _spec(tmp_path, 'accounts = "a.csv"\nregistry = "r.csv"\n' + data)


def test_nbb_preset_means_the_kbo_rule_unless_told_otherwise():
    assert DataSpec(preset="nbb").id_type == "kbo"
    assert DataSpec(preset="nbb", id_type="any").id_type == "any"
    assert DataSpec().id_type == "any"


def test_nbb_preset_study_normalises_enterprise_numbers(tmp_path):
    pd.DataFrame(
        {
            "ondernemingsnummer": ["0403.170.701", "BE 0403170701", "0202.239.951"],
            "boekjaar": [2016, 2017, 2017],
            "va": [10.0, 12.0, 7.0],
            "emp": [2.0, 2.0, 1.0],
        }
    ).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"KBO": ["403170701"], "cluster": ["VIL"], "join_date": [2017]}).to_csv(
        tmp_path / "r.csv", index=False
    )
    spec = _spec(
        tmp_path,
        'accounts = "a.csv"\nregistry = "r.csv"\npreset = "nbb"\n[data.columns]\n'
        'firm_id = "ondernemingsnummer"\nyear = "boekjaar"\n[data.registry_columns]\n'
        'firm_id = "KBO"\n',
    )
    panel, message = _panel(spec)
    assert panel.spec.id_type == "kbo"
    assert panel.rows_in == len(panel.data) + len(panel.exclusions) == 3
    assert sorted(panel.data["firm_id"].unique()) == ["0202239951", "0403170701"]
    a = panel.data[panel.data["firm_id"] == "0403170701"]
    assert a["member"].tolist() == [0, 1]
    assert panel.flags["accounts_ids_rewritten"]["count"] == 3
    assert "registry firms found in the accounts: 1 of 1 (100.0 %)" in message


@pytest.fixture
def belgian_files(tmp_path):
    """Accounts as a gzipped, cp1252, ';'-separated, decimal-comma text under a plain .csv name; the
    registry as a workbook sheet with enterprise numbers as Excel shows them; deflators mapped."""
    acc = (
        "ondernemingsnummer;boekjaar;nace;gemeente;va;emp\n"
        "0403.170.701;2016;2511;Liège;1.000,0;2,5\n"
        "0403.170.701;2017;2511;Liège;1.100,0;2,5\n"
        "0202.239.951;2016;2511;Gent;500,5;1\n"
        "0202.239.951;2017;2511;Gent;-3,0;1\n"
    )
    (tmp_path / "a.csv").write_bytes(gzip.compress(acc.encode("cp1252")))
    with pd.ExcelWriter(tmp_path / "r.xlsx") as w:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(w, sheet_name="info", index=False)
        pd.DataFrame(
            {
                "KBO": [403170701, 202239951],
                "cluster": ["VIL", "vil "],
                "start": [2017, 2016],
                "einde": [None, 2016],
            }
        ).to_excel(w, sheet_name="leden", index=False)
    pd.DataFrame({"nace2": ["25", "25"], "jaar": [2016, 2017], "ppi": [100.0, 110.0]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    return tmp_path


def test_study_on_belgian_files(belgian_files):
    spec = _spec(
        belgian_files,
        'accounts = "a.csv"\nregistry = "r.xlsx#leden"\ndeflators = "d.csv"\n'
        '[data.columns]\nfirm_id = "ondernemingsnummer"\nyear = "boekjaar"\nregion = "gemeente"\n'
        '[data.registry_columns]\nfirm_id = "KBO"\njoin_date = "start"\nexit_date = "einde"\n'
        '[data.deflator_columns]\nsector = "nace2"\nyear = "jaar"\ndeflator = "ppi"\n',
    )
    with pytest.warns(DataWarning) as rec:
        panel, message = _panel(spec)
    text = "\n".join(str(w.message) for w in rec)
    assert "not valid UTF-8" in text and "read it as cp1252" in text
    assert "'VIL' (rows 1), 'vil ' (rows 2) -> 'VIL'" in text
    assert "rows 2: 1 membership spell(s) start and end in the same calendar year" in text
    assert "2 registry firm id(s) match the accounts only after normalising" in text
    assert panel.rows_in == len(panel.data) + len(panel.exclusions) == 4
    assert panel.exclusions[["row", "reason"]].values.tolist() == [[4, "nonpositive_va"]]
    d = panel.data.set_index(["firm_id", "year"])
    assert_close(d.loc[("0403.170.701", 2017), "va"], 1100.0 / 1.1, rel=ELEMENTWISE_REL)
    assert d.loc[("0403.170.701", 2016), "region"] == "Liège"
    assert d.loc[("0202.239.951", 2016), "member"] == 1  # the same-year spell counts its year
    assert d.loc[("0403.170.701", 2017), "member"] == 1
    assert set(panel.memberships["cluster"]) == {"VIL"}
    assert "registry firms found in the accounts: 2 of 2 (100.0 %)" in message


def test_study_with_explicit_options(belgian_files):
    spec = _spec(
        belgian_files,
        'accounts = "a.csv"\nregistry = "r.xlsx"\nsheet = "leden"\ndecimal = ","\n'
        'encoding = "cp1252"\n[data.columns]\nfirm_id = "ondernemingsnummer"\nyear = "boekjaar"\n'
        '[data.registry_columns]\nfirm_id = "KBO"\njoin_date = "start"\n',
    )
    with pytest.warns(DataWarning) as rec:
        panel, _ = _panel(spec)
    assert not any("UTF-8" in str(w.message) for w in rec)  # encoding given: nothing guessed
    assert panel.rows_in == len(panel.data) + len(panel.exclusions) == 4
    assert panel.data["va"].tolist()[:2] == [500.5, 1000.0]


def test_study_whose_registry_matches_no_firm_stops(belgian_files):
    pd.DataFrame({"firm_id": ["X1"], "cluster": ["VIL"], "join_date": [2017]}).to_csv(
        belgian_files / "other.csv", index=False
    )
    spec = _spec(
        belgian_files,
        'accounts = "a.csv"\nregistry = "other.csv"\n[data.columns]\n'
        'firm_id = "ondernemingsnummer"\nyear = "boekjaar"\n[data.registry_columns]\n'
        'firm_id = "firm_id"\n',
    )
    with (
        pytest.warns(DataWarning, match="cp1252"),
        pytest.raises(DataError, match=r"other\.csv, column 'firm_id', rows 1: none of the 1"),
    ):
        _panel(spec)
