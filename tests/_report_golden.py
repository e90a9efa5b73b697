"""The report's golden record: hashes of the small test report's tables, figures and report.html, and
the environment they depend on (tests/reference/report_golden/; README there says how to remake it).

PNG and PDF bytes (and report.html, which embeds the PNGs) depend on the matplotlib and FreeType
builds; the versions table and the page header name the package versions. So the record holds:

- ``tables``: SHA-256 of every table file except ``versions.*`` (compared on every machine);
- ``fingerprints``: what every figure shows (report._fingerprint; compared on every machine);
- ``html_normalised``: report.html with each embedded PNG replaced by its figure's fingerprint, the
  versions table and the version in the header blanked (compared on every machine);
- ``figure_bytes``: SHA-256 of figures/*.png and *.pdf (compared when matplotlib and FreeType match);
- ``exact``: SHA-256 of report.html and tables/versions.* (compared when every version matches).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).parent / "reference" / "report_golden"
GOLDEN_FILE = GOLDEN_DIR / "golden.json"

_PNG = re.compile(r'<figure id="fig-([^"]+)"><img src="data:image/png;base64,[A-Za-z0-9+/=]+"')
_VERSIONS = re.compile(r'<div class="table" id="tab-versions">.*?</div>\n', re.S)
_HEADER = re.compile(r'<p class="meta">clusterimpact [^;]*;')


def environment() -> dict[str, Any]:
    """The versions the report's bytes depend on."""
    import matplotlib
    from matplotlib import ft2font

    from clusterimpact.provenance import dependency_versions, package_version

    return {
        "matplotlib": matplotlib.__version__,
        "freetype": ft2font.__freetype_version__,
        "versions": {"clusterimpact": package_version(), **dependency_versions()},
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalised_html(page: str, fingerprints: dict[str, str]) -> str:
    """report.html without what depends on the rasteriser or the package versions."""
    page = _PNG.sub(
        lambda m: f'<figure id="fig-{m[1]}"><img src="fingerprint:{fingerprints[m[1]]}"', page
    )
    page = _VERSIONS.sub('<div class="table" id="tab-versions"></div>\n', page)
    return _HEADER.sub('<p class="meta">clusterimpact (version);', page)


def record(out: Path, fingerprints: dict[str, str]) -> dict[str, Any]:
    """The golden record of the report in folder ``out`` (its figures' ``fingerprints`` from the
    ReportResult)."""
    tables = {p.name: _sha(p.read_bytes()) for p in sorted((out / "tables").iterdir())}
    versions = {k: tables.pop(k) for k in list(tables) if k.startswith("versions.")}
    page = (out / "report.html").read_text(encoding="utf-8")
    return {
        "environment": environment(),
        "tables": tables,
        "fingerprints": dict(sorted(fingerprints.items())),
        "html_normalised": _sha(normalised_html(page, fingerprints).encode()),
        "figure_bytes": {p.name: _sha(p.read_bytes()) for p in sorted((out / "figures").iterdir())},
        "exact": {"report.html": _sha(page.encode()), **versions},
    }


def load() -> dict[str, Any]:
    """The committed golden record (a missing record fails: it never skips)."""
    data: dict[str, Any] = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
    return data


def write(rec: dict[str, Any]) -> None:
    GOLDEN_FILE.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _diff(kind: str, now: dict[str, str], then: dict[str, str]) -> list[str]:
    names = sorted(set(now) | set(then))
    return [
        f"{kind} {n}: " + ("new" if n not in then else "missing" if n not in now else "differs")
        for n in names
        if now.get(n) != then.get(n)
    ]


def compare(now: dict[str, Any], then: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Differences between the record ``now`` and the golden ``then``, and the checks made.

    Tables, figure fingerprints and the normalised page are compared always; figure bytes when
    matplotlib and FreeType are those of the golden; report.html and the versions table when
    every version is."""
    env_now, env_then = now["environment"], then["environment"]
    checks = ["tables", "figure fingerprints", "report.html without images and versions"]
    diffs = _diff("table", now["tables"], then["tables"])
    diffs += _diff("figure content", now["fingerprints"], then["fingerprints"])
    if now["html_normalised"] != then["html_normalised"]:
        diffs.append("report.html differs beyond its images and the versions")
    same_raster = all(env_now[k] == env_then[k] for k in ("matplotlib", "freetype"))
    if same_raster:
        checks.append("figure bytes")
        diffs += _diff("figure file", now["figure_bytes"], then["figure_bytes"])
    else:  # the same files, whose bytes the rasteriser decides
        diffs += _diff("figure file", dict.fromkeys(now["figure_bytes"], ""),
                       dict.fromkeys(then["figure_bytes"], ""))  # fmt: skip
    if env_now == env_then:
        checks.append("report.html and versions table bytes")
        diffs += _diff("exact", now["exact"], then["exact"])
    return diffs, checks
