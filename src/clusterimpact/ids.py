"""Firm identifiers: the one rule that links the membership registry to the accounts.

Real registries and accounts rarely write a firm's number the same way: Excel drops the leading zero of
``0200354785``, a Parquet column holds the integer ``200354785``, a registry writes ``0200.354.785`` or
``BE 0200354785``. Ids that do not match would silently give a panel without members, so every id goes
through this rule (DESIGN.md, README "Firm identifiers"):

1. **Written form.** Blanks around an id are removed and a whole number stored as a float loses its
   ``.0`` (``200354785.0`` -> ``200354785``). With ``id_type="kbo"`` (the default with the NBB preset)
   ids are also rewritten to the canonical 10-digit enterprise number (``BE``, dots, spaces, dashes and
   slashes removed, the old 9-digit form gets its leading 0; :mod:`clusterimpact.kbo`), and checked
   mod 97. These are the panel's ``firm_id`` values; with ``id_type="any"`` the accounts' ids are kept
   as written.
2. **Exact link.** A registry id links to the accounts id written the same way.
3. **Key link.** Otherwise both sides are compared through a key: upper case; spaces, dots, dashes and
   slashes removed; a two-letter country prefix before digits removed (``BE``); an all-digit key of 1 to
   10 digits left-padded with zeros to 10 digits (the width of a Belgian enterprise number). A registry
   id links to the accounts id with the same key when exactly one accounts id has it (several: the
   link is ambiguous and not made). The registry row then takes the accounts id.
4. **Never silently.** Links made by the key are counted and announced with examples
   (:class:`~clusterimpact.errors.DataWarning`); the share of registry firms found in the accounts is
   reported in ``FirmPanel.flags["id_match"]``, the panel summary and the CLI output. Below
   :data:`MIN_MATCH_RATE` a warning lists unmatched ids next to accounts ids and the likely fix; when
   no registry firm is found the build stops with a :class:`~clusterimpact.errors.DataError` (CLI exit
   status 2).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError, DataWarning, describe_rows

__all__ = ["ID_RULE", "MIN_MATCH_RATE", "IdMatch", "id_key", "link_registry_ids"]

MIN_MATCH_RATE = 0.9
"""Below this share of registry firms found in the accounts, the panel builder warns."""

ID_RULE = (
    "ids as written (kbo: canonical 10-digit enterprise numbers); else by key: upper case, "
    "separators and a 2-letter country prefix removed, all-digit keys zero-padded to 10 digits"
)
"""One-line statement of the rule, recorded in ``flags["id_match"]["rule"]``."""


def id_key(values: pd.Series) -> pd.Series:
    """The comparison key of ids (step 3 of the module rule); missing stays missing.

    >>> id_key(pd.Series(["BE 0200.354.785", "200354785", "a-12"])).tolist()
    ['0200354785', '0200354785', 'A12']
    """
    # [0-9] and literal blanks instead of \\d and \\s keep pandas on pyarrow's fast regex engine
    s = values.astype("str").str.strip().str.upper()
    s = s.str.replace(r"^([0-9]+)\.0$", r"\1", regex=True)
    s = s.str.replace("[ \t\u00a0.\\-/]", "", regex=True)
    prefixed = s.str.fullmatch(r"[A-Z]{2}[0-9]+").fillna(False).astype(bool)
    s = s.where(~prefixed, s.str.slice(2))
    digits = s.str.fullmatch(r"[0-9]{1,10}").fillna(False).astype(bool)
    return s.where(~digits, s.str.zfill(10))


@dataclass(frozen=True)
class IdMatch:
    """How the registry's ids were linked to the accounts (``FirmPanel.flags["id_match"]``).

    Attributes
    ----------
    registry_firms
        Distinct registry ids (after step 1).
    found
        Of these, linked to an accounts id (exactly or by key).
    by_key
        Of ``found``, linked only through the key (step 3).
    examples_by_key
        Up to 5 ``[registry id, accounts id]`` pairs linked by key.
    unmatched
        Up to 10 registry ids not found.
    ambiguous
        Up to 10 registry ids whose key fits several accounts ids.
    """

    registry_firms: int
    found: int
    by_key: int
    examples_by_key: list[list[str]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    @property
    def match_rate(self) -> float:
        """``found / registry_firms`` (1.0 for an empty registry)."""
        return self.found / self.registry_firms if self.registry_firms else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able record (with the rule and the rate)."""
        return {
            "rule": ID_RULE,
            "registry_firms": self.registry_firms,
            "found": self.found,
            "match_rate": round(self.match_rate, 6),
            "by_key": self.by_key,
            "examples_by_key": self.examples_by_key,
            "unmatched": self.unmatched,
            "ambiguous": self.ambiguous,
        }

    def summary(self) -> str:
        """One line for the panel summary."""
        line = (
            f"Registry firms found in the accounts: {self.found:,} of {self.registry_firms:,} "
            f"({100 * self.match_rate:.1f} %)"
        )
        if self.by_key:
            ex = ", ".join(f"{r!r} -> {a!r}" for r, a in self.examples_by_key[:3])
            line += f"; {self.by_key:,} linked after normalising the ids (e.g. {ex})"
        return line


def link_registry_ids(
    registry_ids: pd.Series,
    accounts_ids: pd.Index,
    *,
    registry_source: str,
    accounts_source: str,
    column: str = "firm_id",
) -> tuple[pd.Series, IdMatch]:
    """Link registry ids to accounts ids by the module rule (steps 2-4).

    Parameters
    ----------
    registry_ids
        The registry's ids after step 1 (index: registry rows).
    accounts_ids
        The distinct accounts ids after step 1 (every input row, excluded or not).
    registry_source, accounts_source, column
        Names for messages.

    Returns
    -------
    ids
        The registry ids with key links replaced by the accounts id (others unchanged).
    match
        The counts and examples.

    Raises
    ------
    DataError
        No registry firm is found in a non-empty registry.
    """
    reg = registry_ids.astype("str")
    uniq = pd.Index(pd.unique(reg.dropna()))
    exact = accounts_ids.get_indexer(uniq) >= 0
    if exact.all():  # every registry id is written as in the accounts: no key needed
        match = IdMatch(registry_firms=len(uniq), found=len(uniq), by_key=0)
        return reg, match
    acc = pd.Series(np.asarray(accounts_ids, dtype=object), dtype="str")
    keys = id_key(acc)
    counts = keys.value_counts()
    single = (keys.map(counts) == 1).to_numpy(dtype=bool)
    key_to_acc = dict(zip(keys[single], acc[single], strict=True))
    rest = [str(r) for r in uniq[~exact]]
    rest_keys = id_key(pd.Series(rest, dtype="str")).tolist()
    linked = {r: key_to_acc[k] for r, k in zip(rest, rest_keys, strict=True) if k in key_to_acc}
    ambiguous = [
        r for r, k in zip(rest, rest_keys, strict=True) if k not in key_to_acc and k in counts
    ]
    unmatched = [r for r in rest if r not in linked]
    match = IdMatch(
        registry_firms=len(uniq),
        found=int(exact.sum()) + len(linked),
        by_key=len(linked),
        examples_by_key=[[r, a] for r, a in list(linked.items())[:5]],
        unmatched=unmatched[:10],
        ambiguous=ambiguous[:10],
    )
    out = reg.replace(linked) if linked else reg
    _announce(match, reg, accounts_ids, registry_source, accounts_source, column)
    return out.astype("str"), match


def _announce(
    match: IdMatch,
    reg: pd.Series,
    accounts_ids: pd.Index,
    registry_source: str,
    accounts_source: str,
    column: str,
) -> None:
    acc_examples = ", ".join(repr(str(a)) for a in list(accounts_ids[:3]))
    if match.registry_firms and match.found == 0:
        raise DataError(
            f"none of the {match.registry_firms:,} registry firms is in the accounts "
            f"{accounts_source} (registry ids such as {_show(match.unmatched)}; accounts ids such as "
            f"{acc_examples or '(none)'}), even after normalising the ids ({ID_RULE}). "
            f"{_likely_fix()}",
            source=registry_source,
            column=column,
            rows=list(reg.index),
        )
    if match.by_key:
        pairs = ", ".join(f"{r!r} -> {a!r}" for r, a in match.examples_by_key[:3])
        warnings.warn(
            f"{registry_source}: {match.by_key:,} registry firm id(s) match the accounts only "
            f"after normalising them (separators, country prefix or leading zeros), e.g. {pairs}; "
            "the panel uses the accounts' ids",
            DataWarning,
            stacklevel=4,
        )
    if match.registry_firms and match.match_rate < MIN_MATCH_RATE:
        missing = match.registry_firms - match.found
        rows = list(reg.index[reg.isin(match.unmatched).to_numpy()])
        amb = (
            f"; {len(match.ambiguous)} fit several accounts ids ({_show(match.ambiguous)})"
            if match.ambiguous
            else ""
        )
        warnings.warn(
            f"{registry_source}, column '{column}': only {match.found:,} of "
            f"{match.registry_firms:,} registry firms ({100 * match.match_rate:.1f} %) are in the "
            f"accounts {accounts_source}; {missing:,} are not, e.g. {_show(match.unmatched)} "
            f"(rows {describe_rows(rows, 5)}){amb}; accounts ids look like {acc_examples}. "
            f"{_likely_fix()}",
            DataWarning,
            stacklevel=4,
        )


def _show(ids: list[str]) -> str:
    return ", ".join(repr(i) for i in ids[:5]) or "(none)"


def _likely_fix() -> str:
    return (
        "Likely fix: both files must hold the same identifier (enterprise number, VAT number or "
        "your own id): map the right column in each (columns={'firm_id': '...'} and "
        "registry_columns={'firm_id': '...'}; CLI --columns/--registry-columns firm_id=COLUMN; TOML "
        "[data.columns] / [data.registry_columns]); for Belgian enterprise numbers use "
        "id_type='kbo' (--id-type kbo)"
    )
