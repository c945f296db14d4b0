"""Reading numpy files from threads safely on CPython 3.11."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def retry_spurious_ast_error(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` retried (twice) on CPython 3.11's spurious ``SystemError: AST constructor recursion depth
    mismatch``: its AST constructor's depth counter is not thread-safe (python/cpython#106905), and
    numpy parses every .npy header with ``ast.literal_eval``, so threads reading clips at once can
    hit it. Any other error is raised as it is."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        for _ in range(2):
            try:
                return fn(*args, **kwargs)
            except SystemError as e:
                if "recursion depth mismatch" not in str(e):
                    raise
        return fn(*args, **kwargs)

    return call
