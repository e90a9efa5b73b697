"""Sectors, regions and the six Flemish spearhead clusters of the synthetic economy.

The catalogue is fixed data (not random): NACE Rev. 2 four-digit codes with their weight in the firm
population, the divisions' typical size and capital intensity, the Flemish provinces, and the clusters'
domains and start years. Weights are chosen so that roughly 45 % of firms work in a cluster domain.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CLUSTERS",
    "CLUSTER_START",
    "DIVISIONS",
    "NACE",
    "REGIONS",
    "eligibility",
    "region_weights",
]

# The six Flemish spearhead clusters (speerpuntclusters) and the first year firms can join.
CLUSTERS: tuple[str, ...] = (
    "VIL",
    "Flanders' FOOD",
    "Flux50",
    "Catalisti",
    "De Blauwe Cluster",
    "Medvia",
)
CLUSTER_START: dict[str, int] = {
    "VIL": 2011,
    "Flanders' FOOD": 2012,
    "Flux50": 2015,
    "Catalisti": 2017,
    "De Blauwe Cluster": 2018,
    "Medvia": 2019,
}

# NACE 4-digit code -> (population weight, domain clusters). "R&D-type" services can join any cluster.
NACE: dict[str, tuple[float, tuple[str, ...]]] = {
    # Catalisti: chemistry and plastics (NACE 20, 22)
    "2011": (0.3, ("Catalisti",)),
    "2014": (0.4, ("Catalisti",)),
    "2016": (0.4, ("Catalisti",)),
    "2059": (0.6, ("Catalisti",)),
    "2221": (0.4, ("Catalisti",)),
    "2222": (0.5, ("Catalisti",)),
    "2229": (0.9, ("Catalisti",)),
    # Flanders' FOOD: food and drink (NACE 10, 11)
    "1013": (1.0, ("Flanders' FOOD",)),
    "1039": (0.7, ("Flanders' FOOD",)),
    "1051": (0.4, ("Flanders' FOOD",)),
    "1071": (2.5, ("Flanders' FOOD",)),
    "1082": (0.6, ("Flanders' FOOD",)),
    "1089": (0.7, ("Flanders' FOOD",)),
    "1105": (0.4, ("Flanders' FOOD",)),
    "1107": (0.2, ("Flanders' FOOD",)),
    # VIL: logistics (NACE 49-52); sea freight and port services also maritime
    "4920": (0.1, ("VIL",)),
    "4941": (4.0, ("VIL",)),
    "5121": (0.1, ("VIL",)),
    "5210": (1.2, ("VIL",)),
    "5224": (0.5, ("VIL",)),
    "5229": (1.5, ("VIL",)),
    "5020": (0.4, ("VIL", "De Blauwe Cluster")),
    "5222": (0.4, ("VIL", "De Blauwe Cluster")),
    # De Blauwe Cluster: maritime (shipbuilding 30.1, water projects 42.91, ship repair 33.15)
    "3011": (0.2, ("De Blauwe Cluster",)),
    "3012": (0.2, ("De Blauwe Cluster",)),
    "3315": (0.3, ("De Blauwe Cluster",)),
    "4291": (0.3, ("De Blauwe Cluster",)),
    # Flux50: energy (NACE 35, 27, 43.21)
    "3511": (0.8, ("Flux50",)),
    "3514": (0.2, ("Flux50",)),
    "3530": (0.1, ("Flux50",)),
    "2711": (0.2, ("Flux50",)),
    "2712": (0.2, ("Flux50",)),
    "2790": (0.2, ("Flux50",)),
    "4321": (4.0, ("Flux50",)),
    # Medvia: health (NACE 21, 26.6, 32.5, 86)
    "2110": (0.1, ("Medvia",)),
    "2120": (0.3, ("Medvia",)),
    "2660": (0.2, ("Medvia",)),
    "3250": (0.8, ("Medvia",)),
    "8610": (0.4, ("Medvia",)),
    "8622": (2.0, ("Medvia",)),
    "8690": (1.5, ("Medvia",)),
    # R&D-type services and machinery: occasional members of any cluster
    "6201": (3.0, ()),
    "7022": (3.0, ()),
    "7112": (3.0, ()),
    "7219": (0.5, ()),
    "2829": (0.8, ()),
    # the rest of the economy: (almost) never members
    "2562": (1.5, ()),
    "4120": (5.0, ()),
    "4399": (4.0, ()),
    "4520": (3.0, ()),
    "4690": (4.0, ()),
    "4711": (3.0, ()),
    "5610": (4.0, ()),
    "6820": (3.0, ()),
    "6920": (3.0, ()),
    "8121": (1.5, ()),
    "9602": (2.0, ()),
}
RND_SERVICES: frozenset[str] = frozenset({"6201", "7022", "7112", "7219", "2829"})

# NACE division -> (median FTE of a firm at founding scale, median real capital per FTE in thousand EUR,
#                   inflation drift of the sector price index per year)
DIVISIONS: dict[str, tuple[float, float, float]] = {
    "10": (8.0, 90.0, 0.022),
    "11": (10.0, 150.0, 0.020),
    "20": (25.0, 250.0, 0.018),
    "21": (35.0, 300.0, 0.010),
    "22": (14.0, 120.0, 0.015),
    "25": (5.0, 70.0, 0.017),
    "26": (15.0, 100.0, 0.005),
    "27": (18.0, 100.0, 0.014),
    "28": (12.0, 80.0, 0.016),
    "30": (12.0, 120.0, 0.016),
    "32": (4.0, 60.0, 0.012),
    "33": (6.0, 60.0, 0.018),
    "35": (4.0, 800.0, 0.030),
    "41": (3.0, 60.0, 0.022),
    "42": (20.0, 150.0, 0.022),
    "43": (3.0, 30.0, 0.021),
    "45": (3.0, 40.0, 0.019),
    "46": (4.0, 50.0, 0.015),
    "47": (3.0, 50.0, 0.016),
    "49": (6.0, 80.0, 0.020),
    "50": (8.0, 400.0, 0.025),
    "51": (15.0, 200.0, 0.020),
    "52": (10.0, 150.0, 0.019),
    "56": (3.0, 30.0, 0.024),
    "62": (3.0, 20.0, 0.012),
    "68": (2.0, 400.0, 0.020),
    "69": (3.0, 15.0, 0.021),
    "70": (2.0, 20.0, 0.020),
    "71": (3.0, 20.0, 0.020),
    "72": (5.0, 60.0, 0.018),
    "81": (4.0, 10.0, 0.022),
    "86": (3.0, 40.0, 0.020),
    "96": (2.0, 15.0, 0.020),
}

# Flemish provinces (and Brussels, where some Flemish cluster members are located)
REGIONS: tuple[str, ...] = (
    "Antwerpen",
    "Limburg",
    "Oost-Vlaanderen",
    "Vlaams-Brabant",
    "West-Vlaanderen",
    "Brussel",
)
_BASE_REGION = np.array([0.27, 0.13, 0.22, 0.16, 0.18, 0.04])
# port and chemistry activities are concentrated in Antwerp, Ghent and the coast
_PORT_TILT = np.array([2.2, 0.6, 1.4, 0.5, 1.3, 0.3])


def region_weights(nace: str) -> np.ndarray:
    """Probability of each region in :data:`REGIONS` for a firm in ``nace``."""
    domain = NACE[nace][1]
    w = _BASE_REGION.copy()
    if nace[:2] in {"20", "22", "50", "52", "30", "42"} or "De Blauwe Cluster" in domain:
        w = w * _PORT_TILT
    return w / w.sum()


def eligibility(nace: str) -> np.ndarray:
    """Relative attraction of each cluster (order of :data:`CLUSTERS`) for a firm in ``nace``.

    1 for the cluster(s) whose domain contains the code; R&D-type services and machinery builders are
    occasional members of every cluster (0.12); firms of one domain sometimes join another (0.03); the
    rest of the economy rarely joins (0.004).
    """
    domain = NACE[nace][1]
    if domain:
        return np.array([1.0 if c in domain else 0.03 for c in CLUSTERS])
    if nace in RND_SERVICES:
        return np.full(len(CLUSTERS), 0.12)
    return np.full(len(CLUSTERS), 0.004)
