"""Estimation: fixed effects (twfe), event studies, the duration premium, staggered DiD, inference."""
