"""Which requests fail, and how: scripted answers, throttle storms and seeded random faults.

Precedence per request: a matching scripted answer (FIFO), then a running throttle storm, then
the random plan. Random draws are made only for requests the plan applies to, from a
`random.Random` re-seeded by every `inject`, so a plan replayed over the same request sequence
picks the same victims.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from liverecd.emulator.config import FaultPlan
from liverecd.emulator.odd import SHAPES
from liverecd.emulator.throttle import REAL_TIME_RECORD_COMMAND
from liverecd.emulator.wire import MESSAGES

# What a proxy or a broken server answers, with its status (random `odd` faults).
_ODD = (("html", 403), ("html", 502), ("empty", 408), ("empty", 200), ("truncated", 400),
        ("truncated", 200), ("ok_code", 200), ("unknown_code", 400), ("endless", 200))  # fmt: skip
FaultKind = Literal["scripted", "throttle_storm", "error_5xx", "hang", "reset"]


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request instead of (or, for a hang after effect, after) serving it."""

    kind: FaultKind
    http_status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after_ms: int | None = None
    hang_seconds: float = 0.0
    after_effect: bool = False
    shape: str | None = None  # an answer that is no API answer (emulator/odd.py)


@dataclass(slots=True)
class _Scripted:
    code: str
    http_status: int
    times: int
    retry_after_ms: int | None
    command: str | None
    message: str | None
    action: str | None
    shape: str | None


class FaultInjector:
    """Holds the active faults and decides, per request, whether one strikes."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._plan: FaultPlan | None = None
        self._rng = random.Random(seed)  # noqa: S311 - reproducible faults, not security
        self._storm_until: float | None = None
        self._scripted: list[_Scripted] = []

    def inject(self, plan: FaultPlan) -> None:
        """Replace the random plan and re-seed its generator."""
        self._plan = plan
        seed = self._seed if plan.seed is None else plan.seed
        self._rng = random.Random(seed)  # noqa: S311

    def throttle_storm(self, now: float, seconds: float) -> None:
        """Answer every API call 400 Throttling.User until `now + seconds`."""
        self._storm_until = now + seconds

    def respond_with(
        self,
        code: str,
        http_status: int,
        *,
        times: int = 1,
        retry_after_ms: int | None = None,
        command: str | None = None,
        message: str | None = None,
        action: str | None = REAL_TIME_RECORD_COMMAND,
        shape: str | None = None,
    ) -> None:
        """Queue a scripted answer for the next `times` calls of `action` (None: any API) and,
        if given, `command`; `shape` makes it one of the odd answers of emulator/odd.py."""
        if times < 1:
            raise ValueError("times must be at least 1")
        if shape is not None and shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}")
        self._scripted.append(
            _Scripted(code, http_status, times, retry_after_ms, command, message, action, shape)
        )

    def clear(self) -> None:
        """Drop every plan, storm and scripted answer."""
        self._plan = None
        self._storm_until = None
        self._scripted.clear()

    def decide(self, action: str | None, command: str | None, now: float) -> Fault | None:
        """The fault for a call of `action` carrying `command` (None for other actions)."""
        for item in self._scripted:
            if item.action in (None, action) and item.command in (None, command):
                item.times -= 1
                if item.times == 0:
                    self._scripted.remove(item)
                return Fault(
                    "scripted",
                    item.http_status,
                    item.code,
                    item.message if item.message is not None else MESSAGES.get(item.code),
                    item.retry_after_ms,
                    shape=item.shape,
                )
        if self._storm_until is not None:
            if now < self._storm_until:
                return Fault("throttle_storm", 400, "Throttling.User", MESSAGES["Throttling.User"])
            self._storm_until = None
        return self._draw(command)

    def _draw(self, command: str | None) -> Fault | None:
        plan = self._plan
        if plan is None or (plan.commands is not None and command not in plan.commands):
            return None
        u = self._rng.random()
        if u < plan.error_5xx:
            if self._rng.random() < 0.5:
                return Fault("error_5xx", 500, "InternalError", MESSAGES["InternalError"])
            return Fault("error_5xx", 503, "ServiceUnavailable", MESSAGES["ServiceUnavailable"])
        u -= plan.error_5xx
        if u < plan.hang:
            return Fault(
                "hang", hang_seconds=plan.hang_seconds, after_effect=plan.hang_after_effect
            )
        u -= plan.hang
        if u < plan.reset:
            return Fault("reset")
        u -= plan.reset
        if u < plan.odd:
            shape, status = self._rng.choice(_ODD)
            return Fault("scripted", status, "ServiceUnavailableTemporary", None, shape=shape)
        return None
