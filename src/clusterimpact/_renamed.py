"""Old option spellings, accepted for one release with a ``FutureWarning`` that names the new one.

The package spells an option the same way in every estimator (``level``, ``n_boot``, ``seed``,
``cluster``, ``weights``, ``control``). Estimators that used another spelling before keep accepting it
through :func:`renamed_kwargs`, so that users' scripts keep running and say what to change.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["renamed_kwargs"]

F = TypeVar("F", bound=Callable[..., Any])


def renamed_kwargs(**old_to_new: str) -> Callable[[F], F]:
    """Decorate a function so that old keyword names map onto new ones.

    Parameters
    ----------
    **old_to_new
        ``old_name="new_name"`` pairs.

    Returns
    -------
    Callable
        A decorator. The wrapped function receives the new name; passing the old one issues a
        ``FutureWarning`` naming the function and the new spelling, and passing both is a ``TypeError``.

    Examples
    --------
    >>> @renamed_kwargs(B="n_boot")
    ... def boot(*, n_boot: int = 99) -> int:
    ...     return n_boot
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     boot(B=9)
    9
    """

    def decorate(func: F) -> F:
        name = getattr(func, "__qualname__", getattr(func, "__name__", "function"))

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(
                        f"{name}() got both {old!r} and {new!r}; {old!r} is the old name of {new!r}: "
                        f"pass only {new!r}"
                    )
                warnings.warn(
                    f"{name}(): {old!r} is now spelled {new!r}; the old name will be removed in a later "
                    "release",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
