"""Regenerate tests/reference/report_golden/golden.json from the small test report (``make golden``).

Only on purpose: when a change is meant to alter the report's content, run this and commit the new
golden.json in its own commit saying why the report changed. Run from the repository root:
``PYTHONPATH=src:tests python tests/reference/report_golden/make_golden.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import _report_golden as golden
from _report_run import small_spec
from clusterimpact.report import report


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="clusterimpact-golden-") as tmp:
        res = report(small_spec(), out=Path(tmp) / "small", progress=False)
        failed = [s.name for s in res.steps if not s.ran]
        if failed:
            raise SystemExit(f"steps that did not run, no golden written: {failed}")
        rec = golden.record(res.out, dict(res.fingerprints))
    golden.write(rec)
    print(
        f"wrote {golden.GOLDEN_FILE}: {len(rec['tables'])} tables, {len(rec['fingerprints'])} "
        f"figures (matplotlib {rec['environment']['matplotlib']})"
    )


if __name__ == "__main__":
    main()
