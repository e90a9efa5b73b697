"""``python -m clusterimpact`` runs the command-line interface."""

from clusterimpact.cli import main

raise SystemExit(main())
