"""The clock tool."""

from __future__ import annotations

from datetime import datetime, timezone

from genaisys.tools import get_tool
from genaisys.tools.clock import current_time


def test_fixed_instant_in_several_zones():
    moment = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
    assert current_time("UTC", now=moment) == "2026-07-01T12:00:00+00:00 (Wednesday, UTC, UTC offset +00:00)"
    assert current_time("America/New_York", now=moment).startswith("2026-07-01T08:00:00-04:00 (Wednesday")
    assert current_time("Asia/Kolkata", now=moment).endswith("UTC offset +05:30)")


def test_tool_reports_now_and_refuses_unknown_zones():
    clock = get_tool("builtin:clock")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    stamp = datetime.fromisoformat(clock.invoke({}).split(" ")[0])
    assert abs((stamp - before).total_seconds()) < 5
    message = clock.invoke({"name": "current_time", "args": {"timezone": "../../etc/passwd"}, "id": "c", "type": "tool_call"})
    assert message.status == "error" and "unknown timezone" in message.content
