"""Put a finished study on disk: figures, tables, report.html, manifest.json, timings.json.

Files are written into a staging folder beside the output, which :mod:`clusterimpact.report._swap`
renames into place only when the report is complete, so an error or a kill never leaves half a report. Everything except ``timings.json``, ``report.log`` and the
``volatile`` block of ``manifest.json`` is a deterministic function of the data, the spec and the
package versions.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import json
import math
from pathlib import Path
from typing import Any

from clusterimpact.provenance import dependency_versions, package_version
from clusterimpact.report._artifacts import SECTIONS, FigureArtifact, StepRecord, TableArtifact
from clusterimpact.report._story import findings_section
from clusterimpact.report._study import STEP_SECTIONS, Study
from clusterimpact.report._swap import checkpoint

__all__ = ["build_html", "build_manifest", "write_report"]

MANIFEST_SCHEMA = 1


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, Path):
        return obj.as_posix()
    if hasattr(obj, "item") and callable(obj.item):
        return _clean(obj.item())
    return obj


def _dumps(obj: Any) -> str:
    return json.dumps(_clean(obj), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def seeds_of(study: Study) -> dict[str, int]:
    """Every seed the report used, derived from the spec's master seed."""
    s = study.spec.seed
    out = {"study": s, "matching": s, "did_bootstrap": s + 1, "tfp": s + 2, "inference": s + 3}
    if study.spec.data.source != "files":
        out["synthetic"] = study.spec.data.synthetic_seed
    return out


def build_manifest(study: Study, outputs: dict[str, str], total_seconds: float) -> dict[str, Any]:
    """The manifest: what a reviewer needs to reproduce every figure. Timings live under
    ``volatile`` (and in ``timings.json``); everything else is deterministic."""
    timings = {r.name: round(r.seconds, 3) for r in study.steps}
    slowest = max(study.steps, key=lambda r: r.seconds).name if study.steps else None
    return {
        "schema": MANIFEST_SCHEMA,
        "package": {"name": "clusterimpact", "version": package_version()},
        "dependencies": dependency_versions(),
        "spec": study.spec.to_dict(),
        "inputs": study.inputs,
        "seeds": seeds_of(study),
        "exclusions": study.exclusions,
        "steps": [r.to_dict(timings=False) for r in study.steps],
        **({"engines": engines_of(study)} if study.spec.compute.engine == "dask" else {}),
        "outputs": outputs,
        "volatile": {
            "note": "timings and creation time vary run to run; everything outside this block is "
            "reproducible from the inputs, the spec and the package versions",
            "created_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "total_seconds": round(total_seconds, 3),
            "slowest_step": slowest,
            "timings": timings,
        },
    }


def engines_of(study: Study) -> dict[str, Any]:
    """Where each step ran on the Dask engine: ``{"dask": [...], "memory": [...]}`` (the results it
    computed on each) for the steps that ran an estimator, ``"memory"`` for the others."""
    c = study.spec.compute
    steps = {
        r.name: {k: list(v) for k, v in study.engines[r.name].items()}
        if r.name in study.engines
        else "memory"
        for r in study.steps
        if r.ran
    }
    return {
        "engine": c.engine,
        "scheduler": c.scheduler,
        "npartitions": c.npartitions,
        "steps": steps,
    }


def estimator_exclusions(study: Study) -> dict[str, dict[str, int]]:
    """Observations each estimation result left out, by reason (from the results' ``exclusions``)."""
    out: dict[str, dict[str, int]] = {}
    seen: set[int] = set()
    for name, res in sorted(study.results.items(), key=lambda kv: -len(kv[0])):
        if id(res) in seen:  # the same result stored under a short alias ("duration")
            continue
        seen.add(id(res))
        ex = getattr(res, "exclusions", None)
        if isinstance(ex, dict) and ex:
            out[name] = {str(k): int(v) for k, v in sorted(ex.items(), key=lambda kv: str(kv[0]))}
    return dict(sorted(out.items()))


def add_provenance_tables(study: Study) -> None:
    """Versions, inputs, seeds and estimator exclusions as tables of the Reproducibility section."""
    import pandas as pd

    by_result = estimator_exclusions(study)
    study.exclusions["estimators"] = by_result
    ex_rows = [
        {"result": name, "reason": reason, "observations": n}
        for name, d in by_result.items()
        for reason, n in d.items()
    ]
    if ex_rows:
        study.add_table(
            "estimator_exclusions",
            "provenance",
            "Observations left out by each estimator",
            "Firm-years (or firms) each estimation result could not use, by reason, beyond the panel "
            "exclusions of the data section.",
            pd.DataFrame(ex_rows),
        )

    if study.spec.compute.engine == "dask":
        where = engines_of(study)["steps"]
        study.add_table(
            "engines",
            "provenance",
            "Where each step ran",
            '[compute] engine = "dask": the results each step computed on the Dask cluster and in '
            "memory on the client (steps without an estimator ran in memory).",
            pd.DataFrame(
                {
                    "step": list(where),
                    "on Dask": [
                        ", ".join(v["dask"]) if isinstance(v, dict) else "" for v in where.values()
                    ],
                    "in memory": [
                        ", ".join(v["memory"]) if isinstance(v, dict) else "all"
                        for v in where.values()
                    ],
                }
            ),
        )
    versions = {"clusterimpact": package_version(), **dependency_versions()}
    study.add_table(
        "versions",
        "provenance",
        "Software versions",
        "Package and dependency versions of this run (also in manifest.json).",
        pd.DataFrame({"package": list(versions), "version": list(versions.values())}),
    )
    rows = []
    for kind, info in study.inputs.items():
        for k, v in info.items():
            rows.append({"input": kind, "field": k, "value": str(v)})
    if rows:
        study.add_table(
            "inputs",
            "provenance",
            "Inputs",
            "Input files with their SHA-256, or the settings and data hashes of simulated data.",
            pd.DataFrame(rows),
        )
    seeds = seeds_of(study)
    study.add_table(
        "seeds",
        "provenance",
        "Seeds",
        "Every random step of the report derives from the study seed.",
        pd.DataFrame({"use": list(seeds), "seed": [int(v) for v in seeds.values()]}),
    )


# -- HTML ------------------------------------------------------------------------------------------
_CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1.5em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;
margin-top:2.2em}h3{font-size:1.05em;margin-bottom:.3em}
.meta{color:#555;font-size:.9em}nav ol{columns:2;font-size:.95em}
figure{margin:1.2em 0;border:1px solid #e4e4e4;padding:.6em;background:#fff}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:.88em;color:#333;margin-top:.5em}
section table{border-collapse:collapse;font-size:.85em;margin:.4em 0 1.2em}
section table th,section table td{padding:.25em .6em;border-bottom:1px solid #ddd}
section table th{background:#f3f6fa;text-align:left}td.num{text-align:right;
font-variant-numeric:tabular-nums}.tcap{font-size:.88em;color:#444;margin:.2em 0}
.note{background:#fff8e6;border-left:4px solid #E69F00;padding:.4em .8em;font-size:.9em}
.status-ok{color:#009E73}.status-failed{color:#D55E00;font-weight:bold}
.status-not{color:#E69F00}.status-warnings{color:#E69F00}
.warnings{background:#fdf1ec;border-left:4px solid #D55E00;padding:.4em .8em;font-size:.9em}
.warnings ul{margin:.2em 0;padding-left:1.4em}
#findings{background:#f3f6fa;border:1px solid #d5deea;padding:.2em 1.2em .8em;margin:1em 0}
#findings h2{margin-top:.6em}ol.findings li{margin:.45em 0}.num{font-weight:bold;white-space:nowrap}
"""

_INTRO = {
    "data": "The firm-year panel built from the annual accounts and the membership registry: its size, "
    "every exclusion by reason, and how members compare with their sectors year by year.",
    "selection": "Members are not a random draw. This section compares them, in the year before they "
    "join, with firms that never join.",
    "productivity": "Production-function estimates behind each TFP outcome (log TFP is the estimated "
    "productivity term of a value-added Cobb-Douglas).",
    "matching": "Each joining cohort is matched, in the year before joining, to firms that are not (yet) "
    "members; balance before and after matching by standardised mean differences.",
    "premium": "The productivity premium of members over comparable firms: the event study around "
    "joining, the static premium, and the premium by years of membership with its slope.",
    "heterogeneity": "The premium by cluster and by joining cohort.",
    "robustness": "The same question answered by several estimators and on several outcomes "
    "(labour productivity and TFP from each production-function method).",
    "sensitivity": "How far could a violation of parallel trends go before the premium is no longer "
    "significant (Rambachan-Roth sets), and how strong would hidden selection into membership have to "
    "be to explain the matched estimate away (Rosenbaum bounds)?",
    "subgroups": "Which clusters, cohorts and firm sizes drive the premium, tested jointly with "
    "multiplicity-adjusted p-values so that no subgroup is cherry-picked.",
    "chain": "TFP is estimated before it is used as an outcome: the firm-block bootstrap of the whole "
    "chain shows how much that first step adds to the uncertainty of the premium.",
    "truth": "The data are synthetic, so the true effects are known: estimates against the truth.",
    "provenance": "Versions, inputs, seeds and steps of this run (also in manifest.json).",
}


def _figure_html(f: FigureArtifact, number: int) -> str:
    b64 = base64.b64encode(f.images["png"]).decode("ascii")
    return (
        f'<figure id="fig-{html.escape(f.name)}">'
        f'<img src="data:image/png;base64,{b64}" alt="{html.escape(f.title)}">'
        f"<figcaption><b>Figure {number}. {html.escape(f.title)}.</b> "
        f"{html.escape(f.caption)}</figcaption></figure>\n"
    )


def _table_html(t: TableArtifact, number: int) -> str:
    return (
        f'<div class="table" id="tab-{html.escape(t.name)}"><h3>Table {number}. '
        f'{html.escape(t.title)}</h3><p class="tcap">{html.escape(t.caption)}</p>\n{t.html}</div>\n'
    )


def build_html(study: Study) -> str:
    """The self-contained report page (figures embedded as base64 PNG)."""
    spec = study.spec
    sections = [k for k in SECTIONS if k != "truth" or study.truth is not None]
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f"<title>{html.escape(spec.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        f"<h1>{html.escape(spec.title)}</h1>\n",
        f'<p class="meta">clusterimpact {html.escape(package_version())}; outcomes: '
        f"{html.escape(', '.join(spec.outcome_names))}; headline outcome "
        f"{html.escape(spec.outcomes.headline)}; seed {spec.seed}.</p>\n",
        findings_section(study),
        "<nav><ol>"
        + "".join(f'<li><a href="#{k}">{html.escape(SECTIONS[k])}</a></li>' for k in sections)
        + "</ol></nav>\n",
    ]
    fig_no = tab_no = 0
    for key in sections:
        parts.append(f'<section id="{key}">\n<h2>{html.escape(SECTIONS[key])}</h2>\n')
        parts.append(f"<p>{html.escape(_INTRO[key])}</p>\n")
        for n in study.notes.get(key, []):
            parts.append(f'<p class="note">{html.escape(n)}</p>\n')
        for r in study.steps:
            if r.warnings and _warning_section(r.name, sections) == key:
                parts.append(_warnings_html(r))
        for f in (f for f in study.figures if f.section == key):
            fig_no += 1
            parts.append(_figure_html(f, fig_no))
        for t in (t for t in study.tables if t.section == key):
            tab_no += 1
            parts.append(_table_html(t, tab_no))
        if key == "provenance":
            parts.append(_steps_html(study))
        parts.append("</section>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def _warning_section(step: str, sections: list[str]) -> str:
    """The section that shows a step's warnings: its own, or Reproducibility if not on the page."""
    key = STEP_SECTIONS.get(step, "provenance")
    return key if key in sections else "provenance"


def _warnings_html(r: StepRecord) -> str:
    """The warnings a step raised, each once, with how often."""
    items = "".join(
        f"<li>{html.escape(w)}" + (f" <i>({n} times)</i>" if n > 1 else "") + "</li>"
        for w, n in r.warnings
    )
    return (
        f'<div class="warnings" id="warnings-{html.escape(r.name)}"><b>Warnings raised by the '
        f"step '{html.escape(r.name)}'</b> ({len(r.warnings)}):<ul>{items}</ul></div>\n"
    )


def _steps_html(study: Study) -> str:
    rows = []
    for r in study.steps:
        cls = "status-" + r.status.split()[0]
        firms = f"{r.firms:,}" if r.firms is not None else ""
        status = html.escape(r.status)
        if r.warnings:
            status = f'<a href="#warnings-{html.escape(r.name)}">{status}</a>'
        rows.append(
            f'<tr><td>{html.escape(r.name)}</td><td class="{cls}">{status}</td>'
            f'<td class="num">{firms}</td><td>{html.escape(r.detail)}</td></tr>'
        )
    return (
        '<h3>Steps of this run</h3><p class="tcap">Status of each step and the firms in the sample '
        "after it (wall-clock times are in timings.json).</p>\n"
        '<table class="ci-table"><thead><tr><th>step</th><th>status</th><th>firms</th>'
        "<th>detail</th></tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table>\n"
    )


# -- disk ------------------------------------------------------------------------------------------
def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def write_report(study: Study, folder: Path, total_seconds: float) -> dict[str, Any]:
    """Write every artefact into ``folder`` (the staging folder of :mod:`~clusterimpact.report._swap`,
    which swaps it into place once complete); returns the manifest."""
    files: dict[str, bytes] = {}
    for f in study.figures:
        for fmt, data in f.images.items():
            if fmt in study.spec.figure_formats or fmt == "png":
                files[f"figures/{f.name}.{fmt}"] = data
    for t in study.tables:
        files[f"tables/{t.name}.md"] = t.markdown.encode()
        files[f"tables/{t.name}.tex"] = t.latex.encode()
        files[f"tables/{t.name}.html"] = t.html.encode()
    html_bytes = build_html(study).encode()
    files["report.html"] = html_bytes
    outputs = {k: _sha(v) for k, v in sorted(files.items())}
    manifest = build_manifest(study, outputs, total_seconds)
    files["manifest.json"] = _dumps(manifest).encode()
    vol = manifest["volatile"]
    files["timings.json"] = _dumps(
        {
            "total_seconds": vol["total_seconds"],
            "slowest_step": vol["slowest_step"],
            "steps": [r.to_dict() for r in study.steps],
        }
    ).encode()
    for i, (rel, data) in enumerate(files.items(), start=1):
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        checkpoint(f"write:{i}")
    return manifest
