"""Deadline-first release plan: when may each pending start leave? Pure arithmetic, no clock.

One function for the dispatcher (`engine.dispatch.queue`) and for `check`'s quota forecast
(`schedule.quota`), so the forecast is the plan the daemon follows. At the top of the package
because both import it (nothing here imports from either).

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
