"""Column presets: rubric-code parsing and the NBB derivations (value added, FTE, materials, capital)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.errors import SpecError
from clusterimpact.io import read_accounts
from clusterimpact.panel import PanelSpec, build_panel
from clusterimpact.presets import get_preset, nbb_preset, rubric_key
from tolerances import STORED_REL


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("70", "70"),
        ("c70", "70"),
        ("rubric_70", "70"),
        ("code 22/27", "22/27"),
        ("22_27", "22/27"),
        ("70/76A", "70/76A"),
        ("76a", "76A"),
        ("9087", "9087"),
        ("firm_id", None),
        ("year", None),
    ],
)
def test_rubric_key(name, key):
    assert rubric_key(name) == key


def nbb_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "firm_id": ["0403.170.701", "0403.170.701", "0403.170.701"],
            "year": [2018, 2019, 2020],
            # full model, full model with 70/76A missing, abbreviated model (9900 only)
            "70": [1000.0, 1000.0, np.nan],
            "71": [10.0, np.nan, np.nan],
            "72": [5.0, np.nan, np.nan],
            "74": [20.0, 20.0, np.nan],
            "740": [8.0, np.nan, np.nan],
            "70/76A": [1040.0, np.nan, np.nan],
            "76A": [5.0, np.nan, 7.0],
            "60": [400.0, 400.0, np.nan],
            "61": [200.0, 200.0, np.nan],
            "60/61": [np.nan, np.nan, 550.0],
            "9900": [np.nan, np.nan, 300.0],
            "62": [250.0, 250.0, 200.0],
            "1003": [5.0, np.nan, np.nan],
            "9087": [4.5, 4.0, 3.5],
            "22/27": [800.0, 700.0, 600.0],
        }
    )


def test_nbb_value_added_full_and_abbreviated():
    acc = read_accounts(nbb_frame(), preset="nbb")
    # full: 70/76A - 76A - 740 - 60 - 61 = 1040 - 5 - 8 - 400 - 200
    # full, 70/76A rebuilt: 70 + 74 (blank 71, 72, 76A, 740 count as 0) - 60 - 61 = 1020 - 600
    # abbreviated: 9900 - 76A = 300 - 7
    assert_close(acc["va"], [427.0, 420.0, 293.0], rel=STORED_REL)
    assert_close(acc["emp"], [5.0, 4.0, 3.5], rel=STORED_REL)  # 1003, else 9087
    assert_close(acc["materials"], [600.0, 600.0, 550.0], rel=STORED_REL)  # 60 + 61, else 60/61
    assert_close(acc["capital"], [800.0, 700.0, 600.0], rel=STORED_REL)
    assert_close(acc["wages"], [250.0, 250.0, 200.0], rel=STORED_REL)
    assert_close(acc["turnover"][:2], [1000.0, 1000.0], rel=STORED_REL)
    assert "va" in acc.attrs["preset_notes"]


def test_nbb_temp_staff_option():
    df = nbb_frame().assign(**{"1521": [3.0, 0.0, 0.0], "1522": [2.0, 0.0, 0.0]})
    acc = read_accounts(df, preset=nbb_preset(temp_staff=True))
    assert_close(acc["va"].iloc[0], 432.0, rel=STORED_REL)


def test_nbb_missing_main_rubrics_give_missing_va():
    df = nbb_frame().drop(columns=["9900"])
    acc = read_accounts(df, preset="nbb")
    assert np.isnan(acc["va"].iloc[2])


def test_nbb_preset_with_kbo_panel():
    p = build_panel(nbb_frame(), None, PanelSpec(id_type="kbo"), preset="nbb")
    assert p.data["firm_id"].unique().tolist() == ["0403170701"]
    assert p.flags["preset"]["emp"] == "1003 (else 9087)"
    assert "bad_ids" in p.flags and p.flags["bad_ids"] == []


def test_user_map_overrides_preset_role():
    df = nbb_frame().assign(my_va=[1.0, 2.0, 3.0])
    acc = read_accounts(df, columns={"va": "my_va"}, preset="nbb")
    assert acc["va"].tolist() == [1.0, 2.0, 3.0]


def test_unknown_preset():
    with pytest.raises(SpecError, match="choose one of nbb"):
        get_preset("bel-first")
