"""Firm ids link one to one: distinct registry firms are never merged onto one accounts firm.

Each case is a referee's repro of the old key (any two-letter prefix and every separator removed, every
short all-digit key zero-padded, ambiguity checked on the accounts side only), which linked them all and
reported a 100 % match rate.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.errors import DataWarning
from clusterimpact.ids import id_key, link_registry_ids
from clusterimpact.panel import PanelSpec, build_panel
from tolerances import ELEMENTWISE_REL

# 0200.962.026: 2009620 = 97 * 20717 + 71, check 97 - 71 = 26 -> a valid enterprise number (the
# Belgian firm of the referee's example).
KBO_BE = "0200962026"
KBO_A = "0403170701"  # checked by hand in tests/test_ids.py


def link(registry: list[str], accounts: list[str]):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out, match = link_registry_ids(
            pd.Series(registry, dtype="str"),
            pd.Index(accounts),
            registry_source="reg.csv",
            accounts_source="acc.csv",
        )
    return out.tolist(), match, "\n".join(str(w.message) for w in rec)


def test_only_the_belgian_prefix_is_removed():
    out, m, _ = link(["FR5", "NL5", "7"], ["5", "7", "8"])
    assert out == ["FR5", "NL5", "7"]  # was ['5', '5', '7'] with match rate 1.0
    assert (m.found, m.by_key, m.unmatched) == (1, 0, ["FR5", "NL5"])
    assert_close(m.match_rate, 1 / 3, rel=ELEMENTWISE_REL)


def test_short_numbers_are_not_zero_padded():
    out, m, _ = link(["12", "0012"], ["12", "9"])
    assert out == ["12", "0012"]  # was ['12', '12']
    assert (m.found, m.unmatched) == (1, ["0012"])


def test_separators_of_short_ids_are_not_removed():
    out, m, _ = link(["1-23", "45"], ["12-3", "45"])
    assert out == ["1-23", "45"]  # was ['12-3', '45']
    assert (m.found, m.unmatched) == (1, ["1-23"])
    assert id_key(pd.Series(["1 23", "12 3", "ab  7"])).tolist() == ["1 23", "12 3", "AB 7"]


def test_enterprise_numbers_written_differently_still_link():
    forms = ["BE 0200.962.026", "200962026", "0200-962-026", "be0200/962/026", "200962026.0"]
    for form in forms:
        out, m, msg = link([form], [KBO_BE])
        assert out == [KBO_BE] and (m.found, m.by_key) == (1, 1), form
        assert "match the accounts only after normalising" in msg
    # digits after another country's prefix are not a Belgian number
    assert id_key(pd.Series(["NL200962026", "BE12"])).tolist() == ["NL200962026", "BE12"]


def test_several_registry_ids_reaching_one_accounts_id_are_not_linked():
    out, m, msg = link(["0403.170.701", "BE403170701", "7"], [KBO_A, "7"])
    assert out == ["0403.170.701", "BE403170701", "7"]
    assert m.collisions == [[KBO_A, "0403.170.701", "BE403170701"]]
    assert m.ambiguous == ["0403.170.701", "BE403170701"] and m.found == 1 and m.by_key == 0
    assert (
        "reg.csv, column 'firm_id', rows 0, 1: ambiguous firm ids: 1 accounts firm(s) reached by "
        "several distinct registry ids ('0403.170.701', 'BE403170701' -> '0403170701')"
    ) in msg


def test_a_key_link_onto_an_id_another_registry_id_has_exactly_is_not_made():
    out, m, msg = link([KBO_A, "403170701"], [KBO_A])
    assert out == [KBO_A, "403170701"]  # the exact link stands; the key link would merge two ids
    assert m.collisions == [[KBO_A, KBO_A, "403170701"]] and m.ambiguous == ["403170701"]
    assert (m.found, m.registry_firms) == (1, 2)
    assert "rows 0, 1: ambiguous firm ids" in msg


def test_found_counts_distinct_accounts_firms():
    out, m, _ = link(["0403.170.701", "0202 239 951"], [KBO_A, "0202239951"])
    assert out == [KBO_A, "0202239951"]
    assert (m.found, m.by_key, m.match_rate) == (2, 2, 1.0)


def test_two_foreign_registry_firms_do_not_attach_to_a_belgian_firm():
    acc = pd.DataFrame(
        [(f, y, 10.0, 2.0) for f in (KBO_BE, KBO_A) for y in (2016, 2017, 2018)],
        columns=["firm_id", "year", "va", "emp"],
    )
    reg = pd.DataFrame(
        {
            "firm_id": ["NL200962026", "FR200962026", KBO_A],
            "cluster": ["Flux50", "Catalisti", "VIL"],
            "join_date": 2017,
        }
    )
    with pytest.warns(DataWarning, match=r"only 1 of 3 registry firms \(33\.3 %\)"):
        p = build_panel(acc, reg, PanelSpec(id_type="any"))
    be = p.data[p.data["firm_id"] == KBO_BE]
    assert not be["ever_member"].any() and be["treat_year"].isna().all()
    m = p.flags["id_match"]
    assert (m["found"], m["match_rate"]) == (1, round(1 / 3, 6))
    assert m["unmatched"] == ["NL200962026", "FR200962026"]
    assert p.flags["registry_ids_absent"] == ["FR200962026", "NL200962026"]
    assert "Registry firms found in the accounts: 1 of 3 (33.3 %)" in p.summary()


def test_collisions_are_in_the_panel_flags_and_summary():
    acc = pd.DataFrame(
        [(f, y, 10.0, 2.0) for f in (KBO_A, KBO_BE) for y in (2016, 2017)],
        columns=["firm_id", "year", "va", "emp"],
    )
    reg = pd.DataFrame(
        {"firm_id": ["403170701", "0403.170.701", KBO_BE], "cluster": "VIL", "join_date": 2017}
    )
    with pytest.warns(DataWarning) as rec:
        p = build_panel(acc, reg)
    msg = "\n".join(str(w.message) for w in rec)
    assert "rows 0, 1: ambiguous firm ids" in msg and "only 1 of 3 registry firms" in msg
    assert p.flags["id_match"]["collisions"] == [[KBO_A, "403170701", "0403.170.701"]]
    assert not p.data.loc[p.data["firm_id"] == KBO_A, "ever_member"].any()
    assert "not linked, ambiguous: '403170701', '0403.170.701'" in p.summary()
