"""Sphinx configuration: API reference from numpydoc docstrings, gallery from examples/.

Build with ``make docs`` (warnings are errors); the HTML lands in docs/_build/html.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import clusterimpact  # noqa: E402

project = "clusterimpact"
author = "clusterimpact developers"
copyright = "clusterimpact developers, BSD-3-Clause"
release = clusterimpact.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "apigen",
]

# Markdown design notes are for the repository, not the site.
exclude_patterns = [
    "_build",
    "DESIGN.md",
    "STYLE.md",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
]
templates_path: list[str] = []
html_theme = "alabaster"
# module names such as clusterimpact.estimation.heterogeneity fit the sidebar
html_theme_options = {"page_width": "1240px", "sidebar_width": "330px"}
html_title = f"clusterimpact {release}"
html_static_path: list[str] = []

autosummary_generate = False
autodoc_typehints = "none"  # numpydoc's Parameters section states the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Gallery: the scripts in examples/ run at build time (each a few seconds on a small simulated panel).
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": os.environ.get("CLUSTERIMPACT_DOCS_GALLERY", "True"),
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
}
