"""How the dashboards service admits viewers to live sessions (the rest get the offline snapshot)."""
from __future__ import annotations

from satco2.services.dashboards import LiveAdmission


def test_admission_counts_sessions_and_builds_one_at_a_time(monkeypatch):
    import time

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    a = LiveAdmission(max_live=3)
    assert [a.admit(0) for _ in range(3)] == [True, False, False]  # one session built at a time
    clock[0] += a.gap + 0.1
    assert a.admit(1)  # the first exists now; the second is admitted
    clock[0] += a.gap + 0.1
    assert not a.admit(1)  # 1 session + 2 admitted in the window: the limit
    clock[0] += a.window + 1  # those sessions now exist and count themselves
    assert a.admit(2) and not a.admit(2)
    clock[0] += a.gap + 0.1
    assert not a.admit(3)
    clock[0] += a.window + 1
    assert a.admit(0)  # the viewers left: room again
    # a dashboard without an offline snapshot: no one-at-a-time throttle (nothing else to show)
    assert not a.admit(0) and a.admit(0, snapshot=False)
