"""What a firm-year panel's summary states (sizes, members, cohorts, exclusions), for both builds.

:class:`~clusterimpact.panel.FirmPanel` and :class:`~clusterimpact.panel_dask.DaskFirmPanel` compute
these numbers their own way (from a frame, or summed over partitions) and present them with the same
two functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clusterimpact.errors import describe_rows
from clusterimpact.ids import IdMatch

if TYPE_CHECKING:
    from clusterimpact.panel import PanelSpec

__all__ = ["PanelFacts", "panel_dict", "panel_summary"]


@dataclass(frozen=True)
class PanelFacts:
    """What a panel's summary states: sizes, members, cohorts (members by treat_year), exclusions."""

    rows_in: int
    nobs: int
    n_firms: int
    n_members: int
    n_pre: int
    years: tuple[int, int] | None
    cohorts: dict[int, int]
    exclusions: dict[str, int]


def panel_dict(
    facts: PanelFacts, flags: Mapping[str, Any], spec: PanelSpec, sources: Mapping[str, str]
) -> dict[str, Any]:
    """A panel's JSON-able summary (``FirmPanel.to_dict``; the Dask-built panel's too)."""
    return {
        "rows_in": facts.rows_in,
        "nobs": facts.nobs,
        "n_firms": facts.n_firms,
        "n_members": facts.n_members,
        "years": list(facts.years) if facts.years else None,
        "exclusions": dict(facts.exclusions),
        "flags": {k: (v[:50] if isinstance(v, list) else v) for k, v in flags.items()},
        "spec": spec.to_dict(),
        "sources": dict(sources),
    }


def panel_summary(title: str, facts: PanelFacts, flags: Mapping[str, Any]) -> str:
    """A panel's plain-text summary (``FirmPanel.summary``; the Dask-built panel's too)."""
    yrs = facts.years
    lines = [
        title,
        f"Rows in: {facts.rows_in:,}; kept: {facts.nobs:,} firm-years of {facts.n_firms:,} firms"
        + (f", {yrs[0]}-{yrs[1]}" if yrs else ""),
        f"Members: {facts.n_members:,} ({facts.n_pre:,} observed before joining)",
    ]
    if facts.cohorts:
        lines.append("Cohorts: " + ", ".join(f"{k}: {v}" for k, v in facts.cohorts.items()))
    counts = facts.exclusions
    lines.append(
        "Excluded: " + (", ".join(f"{k}={v:,}" for k, v in counts.items()) if counts else "nothing")
    )
    match = flags.get("id_match")
    if match:
        lines.append(IdMatch(**_match_fields(match)).summary())
    rew = flags.get("accounts_ids_rewritten")
    if rew and rew.get("count"):
        ex = ", ".join(f"{a!r} -> {b!r}" for a, b in rew["examples"][:3])
        lines.append(
            f"Accounts ids rewritten as 10-digit enterprise numbers: {rew['count']:,} (e.g. {ex})"
        )
    for key in ("same_year_spells", "cluster_names_merged"):
        if flags.get(key):
            lines.append(f"{key}: {_brief(flags[key])}")
    for key in ("registry_ids_absent", "members_without_pre_year", "bad_ids"):
        v = flags.get(key)
        if v:
            lines.append(f"{key}: {len(v):,} ({describe_rows(v, 5)})")
    und = flags.get("ln_undefined", {})
    if und:
        lines.append(
            "Logs undefined (rows kept): " + ", ".join(f"{k}={v:,}" for k, v in und.items())
        )
    return "\n".join(lines)


def _match_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    keep: tuple[str, ...] = ("registry_firms", "found", "by_key", "examples_by_key", "unmatched")
    keep += ("ambiguous", "collisions")  # "collisions" is absent from older records
    return {k: record[k] for k in keep if k in record}


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k!r} <- {', '.join(map(repr, v))}" for k, v in value.items())
    return describe_rows(value, 5)
