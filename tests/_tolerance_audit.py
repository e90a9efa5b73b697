"""Tolerance audit: how much of its tolerance each ``assert_close`` uses, across BLAS/SIMD settings.

Two halves:

- ``record()`` is called by ``tests/_asserts.assert_close`` when ``CLUSTERIMPACT_TOL_AUDIT=<file>`` is set:
  it appends one JSON line per call (call site, test, tolerance values, used share); the tolerance
  names are read from the source when tabulating (through a helper's parameters if need be).
- ``python tests/_tolerance_audit.py [--out DIR] [--configs a,b] [pytest args]`` runs the numeric tests
  once per configuration below (one subprocess each, sequentially), then prints a Markdown table of
  the largest used share per call site and configuration, and exits 1 if a floating-point tolerance
  uses more than half of itself anywhere (``MAX_SHARE``).

Configurations vary what changes the summation order on x86-64: OpenBLAS's kernel family
(``OPENBLAS_CORETYPE``: SkylakeX = AVX-512, Haswell = AVX2, Sandybridge = AVX, Prescott = SSE; a
DYNAMIC_ARCH build loads its Katmai kernels for Prescott),
numpy's SIMD dispatch (``NPY_DISABLE_CPU_FEATURES``: without the X86_V4 = AVX-512 and X86_V3 = AVX2
groups) and the number of BLAS threads. Settings are passed per command: the environment may already
set OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, which are kept unless a configuration overrides them.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# A floating-point tolerance may use at most this share of itself on any machine we can emulate.
MAX_SHARE = 0.5

CONFIGS: dict[str, dict[str, str]] = {
    "default-1thr": {"OPENBLAS_NUM_THREADS": "1"},
    "default-2thr": {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"},
    "haswell-noV4": {
        "OPENBLAS_NUM_THREADS": "1",
        "OPENBLAS_CORETYPE": "Haswell",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4",
    },
    "sandybridge-baseline": {
        "OPENBLAS_NUM_THREADS": "1",
        "OPENBLAS_CORETYPE": "Sandybridge",
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4",
    },
    "prescott-baseline-2thr": {
        "OPENBLAS_NUM_THREADS": "2",
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_CORETYPE": "Prescott",
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4",
    },
    "skylakex-2thr": {
        "OPENBLAS_NUM_THREADS": "2",
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_CORETYPE": "SkylakeX",
    },
}

# The numeric tests (reports, notebooks and the browser test add nothing here and take minutes).
DEFAULT_TARGETS = [
    "tests/estimation",
    "tests/productivity",
    "tests/matching",
    "tests/cli",
    "tests/plotting",
    "tests/test_balance.py",
    "tests/test_results.py",
    "tests/test_synthetic.py",
    "tests/test_panel.py",
    "tests/test_presets.py",
    "tests/chain",
    "tests/test_synthetic_estimands.py",
    "tests/test_report_truth.py",
    "tests/test_spec_inputs.py",
    "tests/test_stats_helpers.py",
    "tests/test_front_api.py",
    "tests/test_ids_one_to_one.py",
]


# -- recording (inside the test process) -----------------------------------------------------------
def record(share: float, actual: Any, expected: Any) -> None:
    """Append one audit line for the ``assert_close`` call two frames up.

    Stores the call site (and, when a helper called ``assert_close``, the test's own line) and the
    tolerance values; the tolerance *names* are read from the source when tabulating.
    """
    frame = sys._getframe(2)
    inner = (frame.f_code.co_filename, frame.f_lineno)
    chain = [inner]  # the call sites from assert_close's caller out to the test function
    f: Any = frame
    while f is not None and str(TESTS) in f.f_code.co_filename:
        if f is not frame:
            chain.append((f.f_code.co_filename, f.f_lineno))
        if f.f_code.co_name.startswith("test"):
            break
        f = f.f_back
    outer = chain[-1] if f is not None and f.f_code.co_name.startswith("test") else inner
    if outer == inner:
        chain = [inner]
    loc = sys._getframe(1).f_locals
    line = {
        "site": _rel(outer),
        "inner": _rel(inner),
        "chain": [_rel(c) for c in chain],
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0],
        "values": {k: float(np.max(loc.get(k, 0.0))) for k in ("rel", "floor", "abs")},
        "share": share if share != float("inf") else 1e300,
        "n": int(getattr(actual, "size", 1)),
        "config": os.environ.get("CLUSTERIMPACT_TOL_AUDIT_CONFIG", ""),
    }
    with open(os.environ["CLUSTERIMPACT_TOL_AUDIT"], "a") as fh:
        fh.write(json.dumps(line) + "\n")


# -- naming the tolerances from the source -----------------------------------------------------------
TOL_KEYS = ("rel", "floor", "abs")


@cache
def _parsed(path: str) -> tuple[str, ast.Module] | None:
    try:
        src = (REPO / path).read_text()
        return src, ast.parse(src)
    except (OSError, SyntaxError):
        return None


def _site(site: str) -> tuple[str, ast.Module, int] | None:
    path, _, line = site.rpartition(":")
    parsed = _parsed(path)
    return None if parsed is None else (*parsed, int(line))


def _func_name(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _call_arguments(
    site: str, helper: str = "", positional: tuple[str, ...] = ()
) -> dict[str, str]:
    """Source of the arguments of the narrowest call at ``path:line`` that is a call of ``helper``
    (positional arguments under its parameter names ``positional``) or, without ``helper``, that has
    one of the rel/floor/abs keywords."""
    hit = _site(site)
    if hit is None:
        return {}
    src, tree, lineno = hit
    best: tuple[int, ast.Call] | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        end = node.end_lineno or node.lineno
        if not node.lineno <= lineno <= end:
            continue
        ok = _func_name(node) == helper if helper else any(k.arg in TOL_KEYS for k in node.keywords)
        if ok and (best is None or end - node.lineno < best[0]):
            best = (end - node.lineno, node)
    if best is None:
        return {}
    call = best[1]
    out = {
        name: ast.get_source_segment(src, a) or "?"
        for name, a in zip(positional, call.args, strict=False)
    }
    out.update({k.arg: ast.get_source_segment(src, k.value) or "?" for k in call.keywords if k.arg})
    return out


def _enclosing_function(site: str) -> tuple[str, ast.FunctionDef, int] | None:
    hit = _site(site)
    if hit is None:
        return None
    src, tree, lineno = hit
    inner = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.lineno <= lineno <= (node.end_lineno or 0):
            if inner is None or node.lineno > inner.lineno:
                inner = node
    return None if inner is None else (src, inner, lineno)


def _helper_params(site: str) -> tuple[str, tuple[str, ...], dict[str, str]]:
    """Name, parameter names and their defaults' source of the function enclosing ``path:line``."""
    hit = _enclosing_function(site)
    if hit is None:
        return "", (), {}
    src, node, _ = hit
    args = node.args.args
    with_default = args[len(args) - len(node.args.defaults) :]
    defaults = {
        a.arg: ast.get_source_segment(src, d) or "?"
        for a, d in zip(with_default, node.args.defaults, strict=True)
    }
    for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
        if d is not None:
            defaults[a.arg] = ast.get_source_segment(src, d) or "?"
    return node.name, tuple(a.arg for a in args), defaults


def _assigned(node: ast.AST, name: str, src: str) -> str | None:
    """Source of what ``node`` assigns to ``name`` (``a = x`` or ``a, b = x, y``), else None."""
    if not isinstance(node, ast.Assign):
        return None
    for t in node.targets:
        if isinstance(t, ast.Name) and t.id == name:
            return ast.get_source_segment(src, node.value)
        if isinstance(t, ast.Tuple) and isinstance(node.value, ast.Tuple):
            for el, val in zip(t.elts, node.value.elts, strict=False):
                if isinstance(el, ast.Name) and el.id == name:
                    return ast.get_source_segment(src, val)
    return None


def _local_value(site: str, name: str) -> str | None:
    """Source of the last assignment to ``name`` before ``path:line`` in its enclosing function, or
    at module level (an alias such as ``COEF = FE_PROPERTY_COEF_REL``)."""
    hit = _enclosing_function(site)
    if hit is None:
        return None
    src, func, lineno = hit
    found: list[tuple[int, str]] = []
    for node in ast.walk(func):
        if getattr(node, "lineno", lineno) < lineno and (v := _assigned(node, name, src)):
            found.append((node.lineno, v))
    if found:
        return max(found)[1]
    for node in ast.parse(src).body:
        if v := _assigned(node, name, src):
            return v
    return None


def _is_local(expr: str) -> bool:
    """A variable name rather than a tolerances.py constant (those are UPPER_CASE and end in a unit)."""
    return expr.isidentifier() and not (
        expr.isupper() and expr.endswith(("_REL", "_ABS", "_FLOOR", "_SD", "_MULTIPLE", "_SCALE"))
    )


def tolerance_names(line: dict[str, Any]) -> dict[str, str]:
    """rel/floor/abs expressions of one recorded call: through each helper's parameters out to the
    test's own arguments, and a local variable replaced by the expression assigned to it."""
    chain = line.get("chain") or [line["inner"], line["site"]]
    if chain[0] == chain[-1]:
        chain = chain[:1]
    kw = {k: v for k, v in _call_arguments(chain[0]).items() if k in TOL_KEYS}
    for level, site in enumerate(chain):
        outer = chain[level + 1] if level + 1 < len(chain) else None
        name, params, defaults = _helper_params(site)
        args = _call_arguments(outer, name, params) if outer else {}
        for _ in range(3):  # a parameter defaulting to another parameter, a local of a local
            for k, v in kw.items():
                if not _is_local(v):
                    continue
                if v in params or v in defaults:
                    if outer:
                        kw[k] = args.get(v, defaults.get(v, v))
                elif (value := _local_value(site, v)) is not None:
                    kw[k] = value
    return {k: v for k, v in kw.items() if line["values"].get(k)}


def _rel(site: tuple[str, int]) -> str:
    try:
        return f"{Path(site[0]).resolve().relative_to(REPO)}:{site[1]}"
    except ValueError:
        return f"{site[0]}:{site[1]}"


# -- driver -------------------------------------------------------------------------------------------
def run(configs: list[str], out: Path, targets: list[str]) -> dict[str, float]:
    """Run the targets once per configuration; return CPU seconds per configuration."""
    out.mkdir(parents=True, exist_ok=True)
    cpu = {}
    for name in configs:
        path = out / f"{name}.jsonl"
        path.unlink(missing_ok=True)
        env = dict(os.environ)
        env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
        env.update(CONFIGS[name])
        env.update(
            {
                "CLUSTERIMPACT_TOL_AUDIT": str(path),
                "CLUSTERIMPACT_TOL_AUDIT_CONFIG": name,
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])]
                ),
            }
        )
        env.setdefault("CLUSTERIMPACT_SLOW_SCALE", "0.2")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *targets]
        t0 = os.times()
        w0 = time.time()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        t1 = os.times()
        cpu[name] = (t1.children_user - t0.children_user) + (
            t1.children_system - t0.children_system
        )
        tail = proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
        print(
            f"[{name}] exit {proc.returncode}, {cpu[name]:.0f} s CPU, {time.time() - w0:.0f} s wall: {tail[0]}"
        )
        if proc.returncode != 0:
            print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    return cpu


def _parts(line: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(keyword, tolerance name or expression, value) for each nonzero tolerance of one call."""
    names = {k: " ".join(v.split()) for k, v in tolerance_names(line).items()}
    return [(k, names.get(k, "?"), v) for k in TOL_KEYS if (v := line["values"].get(k))]


def _label(parts: list[tuple[str, str, float]]) -> str:
    return "; ".join(f"{k}={n}" + ("" if _is_name(n) else f" ({v:.3g})") for k, n, v in parts)


def _is_name(expr: str) -> bool:
    return expr.replace("_", "").isalnum() and expr.isupper()


def table(out: Path, configs: list[str], by_name: bool = False) -> tuple[str, float]:
    """Markdown table of the largest used share per call site; and the largest floating-point share."""
    sys.path.insert(0, str(TESTS))
    import tolerances

    nfp = tolerances.NOT_FLOATING_POINT
    best: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    names_of: dict[tuple[str, str], list[str]] = {}
    calls: dict[tuple[str, str], int] = defaultdict(int)
    for name in configs:
        path = out / f"{name}.jsonl"
        if not path.exists():
            continue
        for raw in path.read_text().splitlines():
            line = json.loads(raw)
            parts = _parts(line)
            key = (line["site"], _label(parts))
            names_of[key] = [n for _, n, _ in parts]
            best[key][name] = max(best[key].get(name, 0.0), float(line["share"]))
            calls[key] += 1
    rows = []
    worst_fp = 0.0
    for (site, label), per in best.items():
        top = max(per.values())
        spread = top - min(per.values()) if len(per) == len(configs) else float("nan")
        fp = not any(n in label for n in nfp)
        if fp:
            worst_fp = max(worst_fp, top)
        rows.append((top, site, label, fp, spread, calls[(site, label)], names_of[(site, label)]))
    rows.sort(key=lambda r: (-r[0], r[1]))
    if by_name:  # one row per tolerance (name or expression): the largest share of its comparisons
        agg: dict[str, list[Any]] = {}
        for top, _, _, fp, spread, n, names in rows:
            for name in names:
                cur = agg.setdefault(name, [0.0, fp, 0.0, 0, 0])
                cur[0], cur[2] = max(cur[0], top), max(cur[2], 0.0 if spread != spread else spread)
                cur[3], cur[4] = cur[3] + 1, cur[4] + n
        head = (
            "| tolerance | kind | largest share used | largest spread across configs | call sites | calls |\n"
            "|---|---|---|---|---|---|\n"
        )
        body = "".join(
            f"| `{k}` | {'fp' if fp else 'stat/printed'} | {top:.2g} | {spr:.1g} | {ns} | {n} |\n"
            for k, (top, fp, spr, ns, n) in sorted(agg.items(), key=lambda kv: -kv[1][0])
        )
        return head + body, worst_fp
    head = (
        "| call site | tolerance | kind | largest share used | spread across configs | calls |\n"
        "|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| `{s}` | {lab} | {'fp' if fp else 'stat/printed'} | {top:.2g} | {spr:.1g} | {n} |\n"
        for top, s, lab, fp, spr, n, _ in rows
    )
    return head + body, worst_fp


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "tolerance_audit")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--table-only", action="store_true", help="tabulate an earlier run")
    ap.add_argument("--top", type=int, default=0, help="print only the N largest rows")
    ap.add_argument(
        "--by-name", action="store_true", help="one row per tolerance, not per call site"
    )
    ap.add_argument("targets", nargs="*", default=DEFAULT_TARGETS)
    args = ap.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    if not args.table_only:
        run(configs, args.out, args.targets)
    md, worst = table(args.out, configs, by_name=args.by_name)
    lines = md.splitlines()
    print("\n".join(lines[: 2 + args.top] if args.top else lines))
    print(f"\nlargest share used by a floating-point tolerance: {worst:.3g} (limit {MAX_SHARE})")
    return 0 if worst <= MAX_SHARE else 1


if __name__ == "__main__":
    raise SystemExit(main())
