"""The report as a reader sees it: open report.html in headless Chromium (Debian's package).

Chromium must be installed (``make test`` installs it when missing): without it this test FAILS, it
never skips. Two passes over the small synthetic report of :mod:`_report_run`:

1. ``--dump-dom`` on a copy of the page with a small script appended that, after the load event,
   marks every ``<img>`` with ``data-loaded="1"`` when it decoded (``naturalWidth > 0``) and
   every ``<section>`` with its count of visible figures and tables;
2. ``--screenshot`` of the page, checked not to be blank, and kept beside the report
   (``report_screenshot.png`` in the runs' folder) for a human to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from _report_run import small_report_runs
from clusterimpact.report._study import STEP_SECTIONS

pytestmark = pytest.mark.xdist_group("report")

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

_PROBE = """
<script>
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img");
  for (var i = 0; i < imgs.length; i++) {
    var ok = imgs[i].complete && imgs[i].naturalWidth > 0 && imgs[i].naturalHeight > 0;
    imgs[i].setAttribute("data-loaded", ok ? "1" : "0");
  }
  var secs = document.querySelectorAll("section");
  for (var j = 0; j < secs.length; j++) {
    var n = secs[j].querySelectorAll("figure img, table").length;
    var h = secs[j].getBoundingClientRect().height;
    secs[j].setAttribute("data-items", String(n));
    secs[j].setAttribute("data-height", String(Math.round(h)));
  }
  document.body.setAttribute("data-probe", "done");
});
</script>
"""


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail(
            "Debian's chromium is not installed: `apt-get install -y chromium` "
            "(make test does this); the report screenshot test cannot run without it"
        )
    return exe


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_chromium(), *_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def run():
    return small_report_runs()[0]


def test_every_image_loads_and_no_section_is_empty(run, tmp_path):
    page = (run.out / "report.html").read_text(encoding="utf-8")
    n_img = page.count("<img ")
    assert n_img >= 5, f"only {n_img} images in the report"
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    res = _run(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmp_path)
    dom = res.stdout
    assert 'data-probe="done"' in dom, f"chromium did not render the page: {res.stderr[-2000:]}"
    loaded = re.findall(r'data-loaded="([01])"', dom)
    assert len(loaded) == n_img, (len(loaded), n_img)
    assert all(v == "1" for v in loaded), f"{loaded.count('0')} image(s) failed to load"
    unavailable = {
        STEP_SECTIONS[s.name] for s in run.steps if s.status in ("not available", "skipped")
    }
    sections = re.findall(
        r'<section id="([a-z_]+)"[^>]*?data-items="(\d+)"[^>]*?data-height="(\d+)"', dom
    )
    assert sections, "no section found in the rendered page"
    for key, items, height in sections:
        assert int(height) > 50, f"section {key} is rendered empty"
        if key in unavailable or key == "provenance":
            continue
        assert int(items) > 0, f"section {key} shows no figure and no table"


def test_screenshot_is_not_blank(run, tmp_path):
    import matplotlib.image as mpimg

    shot = tmp_path / "report.png"
    res = _run(
        [
            "--window-size=1280,4000",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            (run.out / "report.html").as_uri(),
        ],
        tmp_path,
    )
    assert shot.is_file(), f"no screenshot: {res.stderr[-2000:]}"
    img = mpimg.imread(shot)
    assert img.shape[0] >= 4000 and img.shape[1] >= 1280
    grey = img[..., :3].mean(axis=2)
    # a real page: mostly white background, but with text and figures (dark pixels) spread over it
    assert grey.std() > 0.05, "the screenshot is blank"
    rows_with_ink = (grey < 0.5).any(axis=1).mean()
    assert rows_with_ink > 0.2, f"only {rows_with_ink:.0%} of screenshot rows have any ink"
    assert np.isfinite(grey).all()
    shutil.copy(shot, run.out.parent / "report_screenshot.png")  # beside the run, for a human
