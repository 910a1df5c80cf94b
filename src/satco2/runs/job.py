"""One scheduled run, in its own process: ``python -m satco2.runs.job SCHEDULE_ID``.

Started by the scheduler service; runs the schedule's notebook (as its owner), records the result
in the schedule and, on success, creates or refreshes the schedule's follow-latest dashboard.
Exit status 0 on success, 1 when the notebook failed, 2 on a user-facing error.
"""
from __future__ import annotations

import sys

from .. import SatCO2Error


def run_schedule(schedule_id: str) -> int:
    from . import publish, schedule
    from .execute import run

    s = schedule.get(schedule_id)
    try:
        rep = run(s.get("notebook_path") or s["notebook"], s["params"], user=s["owner"], check=False)
    except SatCO2Error as e:
        schedule.record_result(schedule_id, None, "error")
        print(f"error: {e}", file=sys.stderr)
        return 2
    schedule.record_result(schedule_id, rep.dir, rep.status)
    print(f"{rep.notebook}/{rep.run_id}: {rep.status}" + (f" ({rep.error})" if rep.error else ""))
    if not rep.ok:
        return 1
    slug = s.get("publish")
    if slug:
        existing = {e["slug"]: e for e in publish.published()}
        try:
            if slug in existing and existing[slug].get("follow_latest") and existing[slug].get("author") == s["owner"]:
                publish.snapshot(rep.dir)
            else:  # new, or the owner's frozen dashboard; another user's name is refused
                publish.publish(follow_latest=rep.notebook, slug=slug, author=s["owner"])
        except SatCO2Error as e:
            print(f"error: the run succeeded but its dashboard was not published: {e}", file=sys.stderr)
            return 2
        print(f"dashboard {slug} shows {rep.notebook}/{rep.run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(run_schedule(sys.argv[1]))
