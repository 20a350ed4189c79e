"""The per-user overlap merge: nothing counts twice, the union is kept, and merging again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from careteam_api.billing.overlap import Interval, merge_overlaps

T0 = datetime(2026, 3, 5, 15, tzinfo=UTC)

intervals = st.lists(
    st.tuples(st.sampled_from(["u1", "u2"]), st.integers(0, 600), st.integers(0, 90)), max_size=12
).map(
    lambda items: [
        Interval(key=str(i), user=u, start=T0 + timedelta(seconds=s * 30), minutes=m, order=f"{i:03d}")
        for i, (u, s, m) in enumerate(items)
    ]
)


def _covered_minutes(items: list[Interval], user: str) -> set[int]:
    out: set[int] = set()
    for i in items:
        if i.user == user:
            start = int((i.start - T0).total_seconds())
            out |= set(range(start, start + i.minutes * 60))
    return out


@given(intervals)
def test_credited_time_never_overlaps_and_never_exceeds_the_union(items: list[Interval]) -> None:
    credits = merge_overlaps(items)
    for user in ("u1", "u2"):
        mine = [i for i in items if i.user == user]
        credited = [Interval(i.key, user, credits[i.key].start, credits[i.key].minutes) for i in mine]
        seconds = [_covered_minutes([c], user) for c in credited]
        assert sum(len(s) for s in seconds) == len(set().union(*seconds))  # no second credited twice
        assert len(set().union(*seconds)) <= len(_covered_minutes(mine, user))


@given(intervals)
def test_merging_twice_changes_nothing(items: list[Interval]) -> None:
    once = merge_overlaps(items)
    again = merge_overlaps(
        [Interval(i.key, i.user, once[i.key].start, once[i.key].minutes, i.order) for i in items]
    )
    assert {k: (c.start, c.minutes) for k, c in again.items()} == {
        k: (c.start, c.minutes) for k, c in once.items()
    }


def test_later_entry_is_trimmed_and_names_the_earlier_one() -> None:
    a = Interval("a", "u1", T0, 20, "1")
    b = Interval("b", "u1", T0 + timedelta(minutes=10), 20, "2")
    credits = merge_overlaps([b, a])
    assert (credits["a"].minutes, credits["b"].minutes) == (20, 10)
    assert credits["b"].start == T0 + timedelta(minutes=20)
    assert credits["b"].overlapped_by == ("a",)
