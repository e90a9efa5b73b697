"""Exception and warning types used throughout clusterimpact.

Errors are raised for anything that would make an answer wrong; warnings for things a user may accept
(a cohort with few controls, a bootstrap with few draws). Every message names the file, column and rows
involved where there are any, and says what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "ClusterImpactError",
    "ClusterImpactWarning",
    "DataError",
    "DataWarning",
    "EstimationError",
    "EstimationWarning",
    "OutputError",
    "PanelError",
    "SpecError",
    "describe_rows",
]


class ClusterImpactError(Exception):
    """Base class of every error raised by clusterimpact.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> try:
    ...     ci.simulate(scenario="no such scenario", n_firms=10)
    ... except ci.ClusterImpactError as err:  # every error of the package
    ...     print(type(err).__name__)
    SpecError
    """


class SpecError(ClusterImpactError, ValueError):
    """An option or specification is invalid (unknown method, bad formula, inconsistent settings).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> try:
    ...     ci.att_gt(example_panel(), outcome="ln_lp", control="everyone")
    ... except ci.SpecError as err:
    ...     print("SpecError:", "control" in str(err))
    SpecError: True
    """


class DataError(ClusterImpactError, ValueError):
    """Input data are unusable: missing columns, non-numeric values, impossible values.

    Parameters
    ----------
    message
        What is wrong and how to fix it.
    source
        The file (or data-frame label) the data came from.
    column
        The offending column, if any.
    rows
        Row numbers (1-based data rows of the file, or index labels of a frame) involved.

    Attributes
    ----------
    message, source, column, rows
        The parts above (``str(error)`` joins them), so a caller can add the file name later.
    problems
        The single errors a combined error reports (see `combine`); ``(self,)`` otherwise.

    Examples
    --------
    >>> from clusterimpact.errors import DataError
    >>> err = DataError("not a number", source="accounts.csv", column="va", rows=[3, 7])
    >>> print(err)
    accounts.csv, column 'va', rows 3, 7: not a number
    >>> err.column, err.rows
    ('va', [3, 7])
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        column: str | None = None,
        rows: Sequence[object] | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.column = column
        self.rows = list(rows) if rows is not None else []
        self.problems: tuple[DataError, ...] = (self,)
        parts = []
        if source:
            parts.append(f"{source}")
        if column:
            parts.append(f"column '{column}'")
        if self.rows:
            parts.append(f"rows {describe_rows(self.rows)}")
        prefix = ": ".join([", ".join(parts)]) + ": " if parts else ""
        super().__init__(prefix + message)

    @classmethod
    def combine(cls, errors: Sequence[DataError]) -> DataError:
        """One error that reports several problems, one line each (the error itself if only one).

        The lines keep their column and rows; a file common to all is named once, up front. The
        combined error's ``column`` lists every column involved.
        """
        if len(errors) == 1:
            return errors[0]
        sources = {e.source for e in errors}
        source = sources.pop() if len(sources) == 1 else None
        lines = [
            str(
                DataError(
                    e.message, source=None if source else e.source, column=e.column, rows=e.rows
                )
            )
            for e in errors
        ]
        text = f"{len(errors)} problems:\n" + "\n".join(f"  {line}" for line in lines)
        combined = DataError(text, source=source)
        combined.column = ", ".join(e.column for e in errors if e.column) or None
        combined.problems = tuple(errors)
        return combined


class PanelError(DataError):
    """The firm-year panel is inconsistent (duplicate firm-years, join after exit, bad ids).

    Examples
    --------
    >>> from clusterimpact.errors import DataError, PanelError
    >>> err = PanelError("duplicate firm-years", source="accounts.csv", column="firm_id", rows=[4, 5])
    >>> isinstance(err, DataError), err.rows
    (True, [4, 5])
    """


class OutputError(ClusterImpactError):
    """An output cannot be written where asked: a read-only or missing place, a file where a folder is
    needed (or the reverse), an output that would overwrite an input, or files that are not ours.

    Parameters
    ----------
    message
        What is wrong and how to fix it.
    path
        The output path concerned.

    Examples
    --------
    >>> from clusterimpact.errors import OutputError
    >>> print(OutputError("is a folder; give a file name", path="reports/"))
    reports/: is a folder; give a file name
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class EstimationError(ClusterImpactError, RuntimeError):
    """An estimator cannot produce a valid answer on these data (no controls, singular design, ...).

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.errors import EstimationError
    >>> issubclass(EstimationError, RuntimeError)
    True
    """


class ClusterImpactWarning(UserWarning):
    """Base class of clusterimpact warnings.

    Examples
    --------
    >>> import warnings
    >>> from clusterimpact.errors import ClusterImpactWarning, DataWarning
    >>> issubclass(DataWarning, ClusterImpactWarning)
    True
    >>> warnings.simplefilter("error", ClusterImpactWarning)  # turn the package's warnings into errors
    >>> warnings.resetwarnings()
    """


class EstimationWarning(ClusterImpactWarning):
    """Something a user may accept but should know (few clusters, optimiser disagreement, ...).

    Examples
    --------
    >>> import warnings
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.errors import EstimationWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     result = ci.duration_effects(example_panel(), outcome="ln_lp")
    >>> any(w.category is EstimationWarning for w in caught)
    True
    >>> len(result.warnings) > 0  # the same messages, kept on the result
    True
    """


class DataWarning(ClusterImpactWarning):
    """Input data were read or matched in a way the user should check (a guessed encoding or decimal
    mark, ids matched only after normalisation, merged cluster names, implausible values).

    Examples
    --------
    >>> import warnings
    >>> from clusterimpact.errors import DataWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("3 rows with FTE above 1e7", DataWarning)
    >>> caught[0].category.__name__
    'DataWarning'
    """


def describe_rows(rows: Iterable[object], limit: int = 10) -> str:
    """Render a list of row identifiers compactly: the first ``limit`` of them and the count.

    Examples
    --------
    >>> from clusterimpact.errors import describe_rows
    >>> describe_rows([3, 7, 12])
    '3, 7, 12'
    >>> describe_rows(range(1, 26), limit=3)
    '1, 2, 3, ... (25 in all)'
    """
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        shown += f", ... ({len(rows)} in all)"
    return shown
