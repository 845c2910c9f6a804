"""Errors the CLI turns into one line on stderr and an exit status."""

from __future__ import annotations


class CliError(Exception):
    """Bad input or a refused operation: printed as ``error: <message>``; exit ``exit_code`` (2)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
