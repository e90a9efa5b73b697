"""`make docs` stays green: the Sphinx site (API reference, user guide, example gallery) builds with
warnings as errors, every public module has its page, and every gallery script runs and draws.

The build runs on a copy of docs/ and examples/ in a temporary folder (the repository is not written),
in a subprocess as `make docs` runs it, gallery included (the scripts run on small simulated panels;
the whole build is about 25 s of CPU).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "docs" / "_ext"))
import apigen

# its module fixtures are built once: all its tests on one pytest worker
pytestmark = pytest.mark.xdist_group("docs")

GALLERY = sorted(p.stem for p in (REPO / "examples").glob("plot_*.py"))


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(
        REPO / "docs",
        root / "docs",
        ignore=shutil.ignore_patterns("_build", "api", "auto_examples"),
    )
    shutil.copytree(REPO / "examples", root / "examples")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "-q",
        ".",
        "_build/html",
    ]
    proc = subprocess.run(
        cmd, cwd=root / "docs", env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"sphinx -W failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    return root / "docs" / "_build" / "html"


@pytest.mark.slow
def test_docs_build_with_warnings_as_errors(built_site):
    assert (built_site / "index.html").is_file()
    assert "What clusterimpact answers" in (built_site / "guide.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_api_reference_has_every_public_module_and_callable(built_site):
    mods = apigen.public_modules("clusterimpact")
    assert len(mods) > 30
    home = apigen.homes(mods)
    for mod in mods:
        page = built_site / "api" / f"{mod.__name__}.html"
        assert page.is_file(), mod.__name__
        html = page.read_text(encoding="utf-8")
        for name in mod.__all__:
            obj = apigen._member(mod, name)
            if apigen._is_documentable(obj) and home[id(obj)] == mod.__name__:
                assert f'id="{mod.__name__}.{name}"' in html, f"{mod.__name__}.{name}"


@pytest.mark.slow
def test_gallery_scripts_ran_and_drew(built_site):
    assert len(GALLERY) >= 3
    for stem in GALLERY:
        page = (built_site / "auto_examples" / f"{stem}.html").read_text(encoding="utf-8")
        assert f"sphx_glr_{stem}_001.png" in page, f"{stem} drew no figure"
        assert (built_site / "_images" / f"sphx_glr_{stem}_001.png").stat().st_size > 5000


def test_api_pages_follow_all(tmp_path, monkeypatch):
    """A name added to a module's __all__ gets its entry without editing any rst."""
    mod = importlib.import_module("clusterimpact.kbo")
    monkeypatch.setattr(mod, "__all__", [*mod.__all__, "extra_function"], raising=True)

    def extra_function() -> None:
        """Do nothing."""

    extra_function.__module__ = "clusterimpact.kbo"
    monkeypatch.setattr(mod, "extra_function", extra_function, raising=False)
    apigen.write_pages("clusterimpact", tmp_path)
    text = (tmp_path / "clusterimpact.kbo.rst").read_text(encoding="utf-8")
    assert ".. autofunction:: clusterimpact.kbo.extra_function" in text
    assert "~clusterimpact.kbo.extra_function" in text
    index = (tmp_path / "index.rst").read_text(encoding="utf-8")
    assert "   clusterimpact.kbo\n" in index and "   clusterimpact._readers" not in index
