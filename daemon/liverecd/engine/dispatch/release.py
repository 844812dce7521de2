"""When an early start leaves: the release plan (`liverecd.release_plan`) and the landing
estimate it is made with."""

from __future__ import annotations

from liverecd.release_plan import Release, plan_releases

__all__ = ["Landing", "Release", "plan_releases"]

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
        self.max_lead = max_lead  # seconds; a main-config reload may change it
        self._latency = latency  # seconds, until answers say otherwise
        self.spacing = 0.0  # what the plan in force was made with
        self.ahead = 0.0

    def answered(self, latency: float) -> None:
        """An answered round trip took `latency` seconds."""
        self._latency += LATENCY_WEIGHT * (latency - self._latency)

    def _target(self) -> float:
        return min(self.max_lead, 2 * self._latency + LAND_MARGIN, MAX_LAND_AHEAD)

    def moved(self, spacing: float) -> bool:
        """True when the plan in force is out of date at send interval `spacing`."""
        if spacing != self.spacing:
            return True
        return abs(self._target() - self.ahead) > max(0.002, 0.25 * self.ahead)

    def adopt(self, spacing: float) -> None:
        """A new plan is made at `spacing` and the current estimate."""
        self.spacing, self.ahead = spacing, self._target()
