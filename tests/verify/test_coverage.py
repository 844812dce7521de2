"""Coverage counts each recorded second of a window once, whatever the files look like; gaps
say absent where the stream was offline and missed elsewhere; the result follows DESIGN §8."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from liverecd.streams import StreamKey
from liverecd.verify.coverage import Gap, Result, judge, union
from liverecd.verify.evidence import Evidence

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


_spans = st.lists(
    st.tuples(st.integers(-50, 150), st.integers(0, 60)).map(lambda t: (at(t[0]), at(t[0] + t[1]))),
    max_size=12,
)


@given(_spans)
def test_coverage_counts_each_second_once_for_overlapping_unordered_or_empty_files(
    files: list[tuple[datetime, datetime]],
) -> None:
    verdict = judge(at(0), at(100), files, min_gap=timedelta(0))
    inside = {s for a, b in files for s in range(100)
              if a <= at(s) and at(s + 1) <= b}  # fmt: skip
    assert 0.0 <= verdict.coverage <= 1.0
    assert verdict.coverage == len(inside) / 100
    gap_seconds = sum((g.end - g.start).total_seconds() for g in verdict.gaps)
    assert abs(gap_seconds - (100 - len(inside))) < 1e-6


@given(_spans)
def test_union_is_ordered_and_disjoint(files: list[tuple[datetime, datetime]]) -> None:
    merged = union(files, at(0), at(100))
    assert all(a < b for a, b in merged)
    assert all(b1 < a2 for (_, b1), (a2, _) in pairwise(merged))


def test_a_clean_window_is_ok() -> None:
    verdict = judge(at(0), at(100), [(at(0.5), at(100))])
    assert verdict.result is Result.OK and verdict.coverage == 0.995 and verdict.gaps == ()


def test_nothing_recorded_while_live_is_one_missed_gap() -> None:
    verdict = judge(at(0), at(100), [])
    assert verdict == judge(at(0), at(100), [], [])
    assert verdict.result is Result.GAP
    assert verdict.gaps == (Gap(at(0), at(100), "missed"),)


def test_offline_middle_third_is_absent_and_a_short_rearm_counts_with_it() -> None:
    files = [(at(0), at(33)), (at(70), at(100))]
    verdict = judge(at(0), at(100), files, [(at(36), at(67))], slack=timedelta(seconds=5))
    assert verdict.gaps == (Gap(at(33), at(70), "absent"),)
    assert verdict.result is Result.ABSENT


def test_a_missed_stretch_longer_than_the_slack_stays_missed() -> None:
    files = [(at(0), at(33)), (at(90), at(100))]
    verdict = judge(at(0), at(100), files, [(at(33), at(67))], slack=timedelta(seconds=5))
    assert verdict.gaps == (Gap(at(33), at(67), "absent"), Gap(at(67), at(90), "missed"))
    assert verdict.result is Result.GAP


def test_evidence_turns_sightings_into_offline_stretches() -> None:
    key = StreamKey("d", "a", "s")
    ev = Evidence()
    ev.observe(key, at(-10), False)
    ev.observe(key, at(20), True)
    ev.observe(key, at(50), False)
    ev.observe(key, at(60), True)
    ev.observe(key, at(90), False)
    assert ev.offline(key, at(0), at(100)) == [(at(0), at(20)), (at(50), at(60)), (at(90), at(100))]
    assert ev.offline(StreamKey("d", "a", "other"), at(0), at(100)) == []


def test_a_missed_stretch_reaching_the_window_edge_is_never_taken_for_a_lag() -> None:
    verdict = judge(at(0), at(10), [], [(at(0), at(1))], slack=timedelta(seconds=15))
    assert verdict.gaps == (Gap(at(0), at(1), "absent"), Gap(at(1), at(10), "missed"))
    assert verdict.result is Result.GAP
