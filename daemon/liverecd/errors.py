"""The one exception hierarchy of liverecd.

Everything the package raises on purpose derives from `LiverecdError`, so the command line can
turn any of them into a clean message and an exit code, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about an input file, printed as `FILE:LINE:COL: message`."""

    file: str
    line: int | None
    col: int | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


class LiverecdError(Exception):
    """Root of every error liverecd raises deliberately."""


class ConfigError(LiverecdError):
    """The main config or a schedule file is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CredentialsError(LiverecdError):
    """Credentials are missing or incomplete; the message names the variable or file."""


class StateError(LiverecdError):
    """The state store could not be read or written."""


class FencedError(StateError):
    """A state write under a fencing token that is no longer current: another member took over."""
