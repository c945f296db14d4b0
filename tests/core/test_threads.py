"""retry_spurious_ast_error: CPython 3.11's thread-unsafe AST depth counter (numpy parses .npy headers
with it) once failed a load on the CI machine; reads are retried on exactly that error."""

from __future__ import annotations

import pytest

from signlang.core.threads import retry_spurious_ast_error


def test_a_spurious_ast_error_in_a_reading_thread_is_retried_and_any_other_error_is_not():
    calls = []

    def flaky(x):
        calls.append(x)
        if len(calls) < 3:
            raise SystemError("AST constructor recursion depth mismatch (before=39, after=36)")
        return x * 2

    assert retry_spurious_ast_error(flaky)(4) == 8 and len(calls) == 3
    with pytest.raises(SystemError, match="other"):
        retry_spurious_ast_error(lambda: (_ for _ in ()).throw(SystemError("other")))()
