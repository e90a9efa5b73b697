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


#: a conversion of an old option's value: ``convert(old_value, new_value_or_None) -> new_value``
Convert = Callable[[Any, Any], Any]


def renamed_kwargs(**old_to_new: str | tuple[str, Convert, str]) -> Callable[[F], F]:
    """Decorate a function so that old keyword names map onto new ones.

    Parameters
    ----------
    **old_to_new
        ``old_name="new_name"`` pairs, or ``old_name=("new_name", convert, how)`` when the value
        changes too (``alpha=("level", ..., "level = 1 - alpha")``): ``convert(old_value, new_value)``
        returns the new option's value, given the new name's value when the caller passed both
        (``None`` otherwise; it raises ``TypeError`` where the two cannot be combined), and ``how``
        is appended to the warning.

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
            for old, spec in old_to_new.items():
                if old not in kwargs:
                    continue
                new, convert, how = (spec, None, "") if isinstance(spec, str) else spec
                if new in kwargs and convert is None:
                    raise TypeError(
                        f"{name}() got both {old!r} and {new!r}; {old!r} is the old name of {new!r}: "
                        f"pass only {new!r}"
                    )
                warnings.warn(
                    f"{name}(): {old!r} is now spelled {new!r}{f' ({how})' if how else ''}; the old "
                    "name will be removed in a later release",
                    FutureWarning,
                    stacklevel=2,
                )
                value = kwargs.pop(old)
                kwargs[new] = value if convert is None else convert(value, kwargs.get(new))
            return func(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
