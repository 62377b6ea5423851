"""Old keyword names that still work for a while: ``@renamed(index="fields")``.

botree 0.1 named the indexed data fields ``index=`` (``Tree(index=("name",))``); the
word now means a child position only, and the parameter is ``fields=``.  Likewise
``descendants(max_distance=)`` is ``max_depth=``, the one word for depth limits.  A call using
the old name gets the new parameter and a ``DeprecationWarning``; giving both is an
``InvalidArgument``.  Nothing else in the package depends on this module's callers.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, TypeVar

from .errors import InvalidArgument

F = TypeVar("F", bound=Callable[..., Any])


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """A decorator mapping old keyword names to new ones (with a ``DeprecationWarning``). O(1) per call."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InvalidArgument(f"give {new}= only: {old}= is its old name")
                    warnings.warn(
                        f"{function.__qualname__}: {old}= is now {new}=",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return call  # type: ignore[return-value]

    return decorate
