"""Errors a user can cause, kept apart from bugs so the CLI can report them in one line."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger("signlang")


class SignlangError(Exception):
    """A mistake the user can fix (path, config, data). The message names the culprit and the fix."""


class ConfigError(SignlangError):
    """An invalid or inconsistent configuration value."""


class DataError(SignlangError):
    """Input files that are missing, malformed or inconsistent with the labels."""


def summarize(problems: list[str], limit: int = 5, sep: str = "; ") -> str:
    """Join the first `limit` problems into one message and say how many were left out."""
    shown = sep.join(problems[:limit])
    more = len(problems) - limit
    return f"{shown} (and {more} more)" if more > 0 else shown


def user_message(exc: BaseException) -> str | None:
    """One line for an exception the user caused, or None for a bug (which keeps its traceback)."""
    if isinstance(exc, SignlangError):
        return str(exc)
    from hydra.errors import InstantiationException  # here, not at the top: `signlang --help` needs no Hydra

    if isinstance(exc, InstantiationException):
        cause = exc.__cause__
        if isinstance(cause, SignlangError):
            return str(cause)
        if isinstance(cause, TypeError):  # unknown or missing constructor argument: a config typo
            key = str(exc).rsplit("full_key: ", 1)[-1] if "full_key: " in str(exc) else "config"
            return f"{key}: {cause}. Check the keys of that config group"
    return None


def exit_on_user_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors into one logged line and exit code 2 (SIGINT: 130, SIGTERM: 143), with no traceback.

    ``HYDRA_FULL_ERROR=1`` or ``SIGNLANG_DEBUG=1`` re-raises for the full traceback. In a multirun
    any failure is logged (a bug with its traceback, into the job's run.log) and the job returns NaN,
    so the other jobs still run.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", 2)  # SIGINT unless signlang.training.signals says otherwise
            log.error(
                "interrupted (%s); the run folder keeps every completed epoch", "SIGTERM" if signum == 15 else "SIGINT"
            )
            if _debug():
                raise
            sys.exit(128 + signum)
        except Exception as exc:
            message = user_message(exc)
            if _debug():
                raise
            if _in_multirun():
                # One failed job must not end the sweep: its folder says "failed" (with the error),
                # the sweep goes on, and the sweep's summary table (and exit status) reports it.
                # NaN is what sweepers (Optuna) take as a failed trial.
                if message is None:
                    log.exception("job failed")
                else:
                    log.error("job failed: %s", message)
                return float("nan")
            if message is None:
                raise
            log.error("%s", message)
            sys.exit(2)

    return wrapper


def refuse_and_exit(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, or one ``error: ...`` line on stderr and exit status 2 for a user error (for
    checks that run before logging is set up, e.g. on the command line itself)."""
    try:
        return fn(*args)
    except SignlangError as exc:
        if _debug():
            raise
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


def _debug() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1" or os.environ.get("SIGNLANG_DEBUG") == "1"


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
