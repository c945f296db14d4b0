import io
import logging

from rich.console import Console

from signlang.core.console import ConsoleHandler


def test_records_off_terminal_are_single_unwrapped_lines(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    stream = io.StringIO()
    handler = ConsoleHandler(console=Console(file=stream), show_path=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("signlang.test_console")
    logger.addHandler(handler)
    logger.propagate = False
    message = "trainer.resume=/a/very/long/temporary/path/" + "x" * 150 + ": no run folder or checkpoint there"
    try:
        logger.error(message)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == f"ERROR    {message}\n"
