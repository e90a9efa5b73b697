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
3. **Key link.** Otherwise both sides are compared through a key (:func:`id_key`): upper case,
   surrounding blanks removed, runs of blanks inside taken as one space, a float's ``.0`` dropped. An
   id that looks like a Belgian enterprise number -- an optional ``BE`` prefix, then digit groups
   separated only by blanks, dots, dashes or slashes, 9 digits in all or 10 starting with 0 or 1 --
   has as key its digits, the 9-digit form left-padded with 0 (``BE 0200.354.785``, ``200354785`` and
   ``0200-354-785`` share the key ``0200354785``). Every other id is its own key: no other country
   prefix is removed (``NL200962026`` is not ``0200962026``), no separator is removed (``1-23`` is not
   ``12-3``), no zero is added (``0012`` is not ``12``). A registry id links to the accounts id with
   the same key only when the link is one to one: exactly one accounts id has the key, and no other
   registry id reaches that accounts id (as written or by key). Otherwise the link is *ambiguous* and
   not made; such ids are listed in ``flags["id_match"]["ambiguous"]`` (and ``["collisions"]``) and
   announced with a warning naming them and their rows. The registry row of a linked id then takes
   the accounts id.
4. **Never silently.** Links made by the key are counted and announced with examples
   (:class:`~clusterimpact.errors.DataWarning`); the share of registry firms found in the accounts is
   (distinct accounts firms reached) reported in ``FirmPanel.flags["id_match"]``, the panel summary and the CLI output. Below
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
    "ids as written (kbo: canonical 10-digit enterprise numbers); else by key, one to one only: "
    "upper case and blanks normalised; enterprise-number-like ids (optional BE, digit groups "
    "separated by blanks, dots, dashes or slashes, 9 digits or 10 starting 0/1) compared by "
    "their digits zero-padded to 10; every other id compared as written"
)
"""One-line statement of the rule, recorded in ``flags["id_match"]["rule"]``."""


def id_key(values: pd.Series) -> pd.Series:
    """The comparison key of ids (step 3 of the module rule); missing stays missing.

    Examples
    --------
    >>> id_key(pd.Series(["BE 0200.354.785", "200354785", "a-12", "NL200354785", " x  7 "])).tolist()
    ['0200354785', '0200354785', 'A-12', 'NL200354785', 'X 7']
    """
    # [0-9] and literal blanks instead of \\d and \\s keep pandas on pyarrow's fast regex engine
    s = values.astype("str").str.strip().str.upper()
    s = s.str.replace(r"^([0-9]+)\.0$", r"\1", regex=True)
    s = s.str.replace("[ \t\u00a0]+", " ", regex=True)
    body = s.str.replace(r"^BE ?", "", regex=True)
    grouped = _flag(body.str.fullmatch(r"[0-9]+(?:[ ./\-][0-9]+)*"))
    digits = body.str.replace(r"[ ./\-]", "", regex=True)
    kbo_like = grouped & _flag(digits.str.fullmatch(r"(?:[0-9]{9}|[01][0-9]{9})"))
    return s.where(~kbo_like, digits.str.zfill(10))


def _flag(matched: pd.Series) -> np.ndarray:
    return matched.fillna(False).to_numpy(dtype=bool)


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
        Up to 10 registry ids not linked because the link would be ambiguous: their key fits several
        accounts ids, or another registry id reaches the same accounts id.
    collisions
        Up to 10 groups ``[accounts id, registry id, registry id, ...]``: several distinct registry
        ids reach one accounts id (as written or by key); the key links among them are not made.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.ids import link_registry_ids
    >>> _, match = link_registry_ids(
    ...     pd.Series(["0200.354.785"]), pd.Index(["0200354785"]),
    ...     registry_source="registry.csv", accounts_source="accounts.csv")
    >>> match.registry_firms, match.found, match.by_key
    (1, 1, 1)
    """

    registry_firms: int
    found: int
    by_key: int
    examples_by_key: list[list[str]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    collisions: list[list[str]] = field(default_factory=list)

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
            "collisions": self.collisions,
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
        if self.ambiguous:
            line += f"; not linked, ambiguous: {_show(self.ambiguous)}"
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

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.ids import link_registry_ids
    >>> registry = pd.Series(["BE 0200.354.785", "0403170701"])
    >>> accounts = pd.Index(["0200354785", "0403170701", "0417497106"])
    >>> ids, match = link_registry_ids(registry, accounts, registry_source="registry.csv",
    ...                                accounts_source="accounts.csv")
    >>> ids.tolist()
    ['0200354785', '0403170701']
    >>> match.found, match.by_key, match.examples_by_key
    (2, 1, [['BE 0200.354.785', '0200354785']])
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
    wanted = {r: key_to_acc[k] for r, k in zip(rest, rest_keys, strict=True) if k in key_to_acc}
    linked, collisions = _one_to_one(wanted, [str(r) for r in uniq[exact]])
    several_acc = [
        r for r, k in zip(rest, rest_keys, strict=True) if k not in key_to_acc and k in counts
    ]
    ambiguous = several_acc + [r for r in wanted if r not in linked]
    unmatched = [r for r in rest if r not in linked]
    match = IdMatch(
        registry_firms=len(uniq),
        found=int(exact.sum()) + len(set(linked.values())),  # distinct accounts firms reached
        by_key=len(linked),
        examples_by_key=[[r, a] for r, a in list(linked.items())[:5]],
        unmatched=unmatched[:10],
        ambiguous=ambiguous[:10],
        collisions=collisions[:10],
    )
    out = reg.replace(linked) if linked else reg
    _announce(match, reg, accounts_ids, registry_source, accounts_source, column)
    _announce_ambiguous(several_acc, collisions, reg, registry_source, column)
    return out.astype("str"), match


def _one_to_one(wanted: dict[str, str], exact: list[str]) -> tuple[dict[str, str], list[list[str]]]:
    """Key links whose accounts id no other registry id reaches; the others as collision groups.

    ``wanted`` maps registry ids to the accounts id their key fits; ``exact`` are the registry ids
    written as an accounts id (each reaches itself). A group is ``[accounts id, registry ids...]``.
    """
    reached: dict[str, list[str]] = {a: [a] for a in exact}
    for r, a in wanted.items():
        reached.setdefault(a, []).append(r)
    linked = {r: a for r, a in wanted.items() if len(reached[a]) == 1}
    collisions = [[a, *rs] for a, rs in reached.items() if len(rs) > 1]
    return linked, collisions


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
            f"; {len(match.ambiguous)} not linked as ambiguous ({_show(match.ambiguous)})"
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


def _announce_ambiguous(
    several_acc: list[str],
    collisions: list[list[str]],
    reg: pd.Series,
    registry_source: str,
    column: str,
) -> None:
    """Warn about every ambiguous key link (never made), whatever the match rate."""
    if not (several_acc or collisions):
        return
    parts = []
    if collisions:
        groups = "; ".join(f"{_show(g[1:])} -> {g[0]!r}" for g in collisions[:5])
        parts.append(
            f"{len(collisions):,} accounts firm(s) reached by several distinct registry ids ({groups}): "
            "distinct registry firms are never merged into one accounts firm, so the links by key "
            "among them are not made"
        )
    if several_acc:
        parts.append(
            f"{len(several_acc):,} registry id(s) whose key fits several accounts ids "
            f"({_show(several_acc)}) are not linked"
        )
    ids = set(several_acc) | {r for g in collisions for r in g[1:]}
    rows = list(reg.index[reg.isin(ids).to_numpy()])
    warnings.warn(
        f"{registry_source}, column '{column}', rows {describe_rows(rows, 10)}: ambiguous firm ids: "
        + "; ".join(parts)
        + ". Write each firm's id the same way in the registry and the accounts",
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
