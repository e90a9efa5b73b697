"""StudySpec: loading TOML, defaults, and validation errors that list the valid choices."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from clusterimpact.errors import SpecError
from clusterimpact.spec import ESTIMATORS, StudySpec, load_spec

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "study.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_default_spec_is_the_synthetic_study():
    s = StudySpec.default()
    assert s.data.source == "synthetic"
    assert s.data.synthetic_dir == Path("data/synthetic")
    assert s.outcome_names == ("ln_lp", "ln_tfp_acf", "ln_tfp_wooldridge")
    assert s.estimation.estimators == ESTIMATORS
    assert s.estimation.duration_labels == ("1", "2", "3", "4", "5+")
    assert load_spec(None) == s


def test_spec_is_frozen():
    s = StudySpec.default()
    with pytest.raises(FrozenInstanceError):
        s.seed = 2  # type: ignore[misc]


def test_shipped_specs_load_and_match_the_default():
    d = StudySpec.from_toml(REPO / "studies" / "default.toml")
    base = StudySpec.default()
    # same study as the built-in default, apart from the title and where the paths are anchored
    assert d.outcomes == base.outcomes
    assert d.matching == base.matching
    assert d.estimation == base.estimation
    assert d.bootstrap == base.bootstrap
    assert d.seed == base.seed
    assert d.data.synthetic_dir == REPO / "data" / "synthetic"
    assert d.out == REPO / "reports"
    real = StudySpec.from_toml(REPO / "studies" / "example_real_accounts.toml")
    assert real.data.source == "files"
    assert real.data.preset == "nbb"
    assert real.data.accounts == REPO / "data" / "private" / "nbb_accounts.parquet"
    assert real.data.columns["firm_id"] == "ondernemingsnummer"
    assert "ln_tfp_lp" in real.outcome_names


def test_relative_paths_resolve_against_the_spec_folder(tmp_path):
    p = _write(tmp_path, '[data]\nsource = "files"\naccounts = "a.csv"\nregistry = "sub/r.csv"\n')
    s = StudySpec.from_toml(p)
    assert s.data.accounts == tmp_path / "a.csv"
    assert s.data.registry == tmp_path / "sub" / "r.csv"
    assert s.source_file == p


def test_to_dict_is_json_ready():
    import json

    d = StudySpec.default().to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["estimation"]["event_window"] == [-5, 5]


def test_headline_defaults_follow_the_tfp_methods(tmp_path):
    s = StudySpec.from_toml(_write(tmp_path, '[outcomes]\ntfp_methods = ["lp"]\n'))
    assert s.outcomes.headline == "ln_tfp_lp"
    s = StudySpec.from_toml(_write(tmp_path, "[outcomes]\ntfp_methods = []\n"))
    assert s.outcomes.headline == "ln_lp"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            '[outcomes]\ntfp_methods = ["acf", "magic"]\n',
            r"'magic' is not valid; choose one of 'ols', 'fe', 'op', 'lp', 'acf', 'wooldridge'",
        ),
        ('[matching]\nmethod = "closest"\n', r"choose one of 'nearest', 'nnmatch', 'cem', 'exact'"),
        (
            '[estimation]\nestimators = ["twfe", "synthdid"]\n',
            r"'synthdid' is not valid; choose one of 'twfe', 'cs'",
        ),
        ('[estimation]\ncontrol = "everyone"\n', r"choose one of 'never', 'notyet'"),
        ('[data]\nsource = "database"\n', r"choose one of 'synthetic', 'simulate', 'files'"),
        ('[data]\nscenario = "boom"\n', r"choose one of 'ecoom', 'null', 'declining'"),
        ("[estimation]\nevent_window = [0, 5]\n", r"must include -2 and 0"),
        ("[estimation]\nevent_window = [-3]\n", r"must be two integers"),
        ("[estimation]\nduration_bins = [1, 3, 2]\n", r"must be increasing"),
        ("[bootstrap]\ndid_draws = -1\n", r"did_draws=-1 must be 0 or more"),
        ('[bootstrap]\ndid_draws = "many"\n', r"did_draws='many' must be an integer"),
        ("[matching]\nneighbors = 0\n", r"neighbors=0 must be at least 1"),
        ("[matching]\ncaliper = -0.1\n", r"caliper=-0.1 must be positive"),
        ('[data]\nsource = "files"\naccounts = "a.csv"\n', r"source='files' needs registry"),
        ("colour = 1\n", r"unknown key\(s\) 'colour' in top level.*valid keys: title, seed"),
        (
            "[matching]\nk = 3\n",
            r"unknown key\(s\) 'k' in \[matching\].*valid keys: method, design, covariates",
        ),
        ("[outcomes]\nlabour_productivity = false\ntfp_methods = []\n", r"no outcome"),
        (
            '[outcomes]\nheadline = "ln_va"\n',
            r"headline='ln_va' is not valid; choose one of 'ln_lp'",
        ),
        ('[data.columns]\nsalary = "loon"\n', r"'salary' is not valid; choose one of 'firm_id'"),
        ('[output]\nfigure_formats = ["gif"]\n', r"choose one of 'png', 'pdf', 'svg'"),
        ("[data]\nstart_year = 2020\nend_year = 2010\n", r"start_year=2020 is after end_year=2010"),
        ("seed = 1.5\n", r"seed=1.5 must be an integer"),
    ],
)
def test_validation_errors_name_the_key_and_the_choices(tmp_path, text, match):
    with pytest.raises(SpecError, match=match) as info:
        StudySpec.from_toml(_write(tmp_path, text))
    assert "study.toml" in str(info.value)  # the error names the file


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match="not valid TOML"):
        StudySpec.from_toml(_write(tmp_path, "[data\n"))
    with pytest.raises(SpecError, match="does not exist"):
        StudySpec.from_toml(tmp_path / "nope.toml")


def test_direct_construction_validates_too():
    from clusterimpact.spec import OutcomeSpec

    with pytest.raises(SpecError, match="duplicates"):
        OutcomeSpec(tfp_methods=("acf", "acf"))


def test_round_trip_through_the_manifest_record():
    import json

    for s in (
        StudySpec.default(),
        StudySpec.from_toml(REPO / "studies" / "example_real_accounts.toml"),
    ):
        rec = json.loads(json.dumps(s.to_dict()))
        assert StudySpec.from_record(rec) == s
    with pytest.raises(SpecError, match="unknown key 'colour'"):
        StudySpec.from_record({"colour": 1})


def test_matching_design_defaults_to_trends_and_excludes_custom_variables():
    from clusterimpact.spec import MatchingSpec

    assert MatchingSpec().design == "trends"
    assert MatchingSpec().variables() == {"design": "trends"}
    custom = MatchingSpec(covariates=("ln_emp", "age"), trends=("ln_lp",), trend_window=3)
    assert custom.design is None
    assert custom.variables() == {
        "covariates": ["ln_emp", "age"],
        "trends": ["ln_lp"],
        "pre_means": [],
        "trend_window": 3,
    }
    with pytest.raises(
        SpecError, match=r"design='levels' sets the matching variables; leave out covariates"
    ):
        MatchingSpec(design="levels", covariates=("age",))
    with pytest.raises(
        SpecError, match=r"design='x' is not valid; choose one of 'trends', 'levels'"
    ):
        MatchingSpec(design="x")


def test_matching_design_from_toml(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('[matching]\ndesign = "levels"\n', encoding="utf-8")
    assert load_spec(path).matching.design == "levels"
    path.write_text('[matching]\ncovariates = ["age"]\npre_means = ["ln_emp"]\n', encoding="utf-8")
    m = load_spec(path).matching
    assert m.design is None and m.pre_means == ("ln_emp",)
