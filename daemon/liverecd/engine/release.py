"""Deadline-first release: when may each pending start leave? Pure arithmetic, no clock.

Starts may leave up to `max_lead` before they are due, but as late as possible: a late start
loses content, an early one only records a little more. Walking the first-attempt starts from
the latest due backwards, each one's latest send time is its due, or one send interval before
the next one's latest send time, whichever is earlier:

    latest[n] = due[n];  latest[i] = min(due[i], latest[i+1] - spacing)
    release[i] = max(due[i] - max_lead, latest[i])

so N starts due at one instant leave from about N x spacing before it, back to back, and the
last one leaves at the instant. A start whose chain would need more than `max_lead` of lead is
released at `due - max_lead` and lands late by the shortfall: the lead is a promise to the
operator (how early a recording may begin), not a hint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Release:
    """When one start may leave (`release`) and when it must leave to be on time (`latest`)."""

    release: float
    latest: float


def plan_releases(dues: Sequence[float], spacing: float, max_lead: float) -> list[Release]:
    """Release times for starts due at `dues` (sorted ascending, ties in send order).

    `spacing` is the limiter's interval between two sends (seconds); `max_lead >= 0`.
    """
    out = [Release(0.0, 0.0)] * len(dues)
    nxt = float("inf")
    for i in range(len(dues) - 1, -1, -1):
        latest = min(dues[i], nxt - spacing)
        out[i] = Release(max(dues[i] - max_lead, latest), latest)
        nxt = latest
    return out


# A start released early aims to *land* by its instant: it leaves sooner by twice the moving
# average of answered round trips plus a little, within max_lead and never more than
# MAX_LAND_AHEAD.
MAX_LAND_AHEAD = 1.0
LAND_MARGIN = 0.02
LATENCY_WEIGHT = 0.2


class Landing:
    """What the release plan is made with: the send interval and how far ahead of its instant
    a start leaves (from the round-trip estimate), and when those moved enough to re-plan
    (re-planning sorts every queued start: not on every answer)."""

    def __init__(self, max_lead: float, latency: float = 0.05) -> None:
        self._max_lead = max_lead
        self._latency = latency  # seconds, until answers say otherwise
        self.spacing = 0.0  # what the plan in force was made with
        self.ahead = 0.0

    def answered(self, latency: float) -> None:
        """An answered round trip took `latency` seconds."""
        self._latency += LATENCY_WEIGHT * (latency - self._latency)

    def _target(self) -> float:
        return min(self._max_lead, 2 * self._latency + LAND_MARGIN, MAX_LAND_AHEAD)

    def moved(self, spacing: float) -> bool:
        """True when the plan in force is out of date at send interval `spacing`."""
        if spacing != self.spacing:
            return True
        return abs(self._target() - self.ahead) > max(0.002, 0.25 * self.ahead)

    def adopt(self, spacing: float) -> None:
        """A new plan is made at `spacing` and the current estimate."""
        self.spacing, self.ahead = spacing, self._target()
