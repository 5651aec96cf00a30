"""The current date and time, in any IANA timezone (stdlib `zoneinfo`).

Example:
    >>> from datetime import datetime, timezone
    >>> fixed = datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)
    >>> current_time("Europe/Paris", now=fixed)
    '2026-11-26T08:30:00+01:00 (Thursday, Europe/Paris, UTC offset +01:00)'
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClockArgs", "build_clock_tool", "current_time"]


class ClockArgs(BaseModel):
    """Arguments of ``current_time``."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(
        default="UTC", max_length=64, description="IANA timezone name, e.g. 'UTC', 'Europe/Paris', 'America/New_York'"
    )


def current_time(timezone_name: str = "UTC", *, now: datetime | None = None) -> str:
    """ISO-8601 date and time in ``timezone_name``, with the weekday and UTC offset.

    Args:
        timezone_name: An IANA name (``"Asia/Tokyo"``) or ``"UTC"``.
        now: The instant to format (tests); default the current time.

    Raises:
        ValueError: The timezone is unknown; the message says how to name one.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = (timezone_name or "UTC").strip()
    try:
        tz = timezone.utc if name.upper() in ("UTC", "Z", "GMT") else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"unknown timezone {name!r}: use an IANA name such as 'UTC', 'Europe/Paris' or 'America/New_York'"
        ) from exc
    moment = (now or datetime.now(timezone.utc)).astimezone(tz)
    offset = moment.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else "+00:00"
    label = "UTC" if tz is timezone.utc else name
    return f"{moment.isoformat(timespec='seconds')} ({moment.strftime('%A')}, {label}, UTC offset {offset})"


def build_clock_tool() -> Any:
    """The clock as a LangChain tool ``current_time(timezone="UTC")``.

    Example:
        >>> "UTC offset +00:00" in build_clock_tool().invoke({})
        True
    """
    from langchain_core.tools import StructuredTool, ToolException

    def current_time_tool(timezone: str = "UTC") -> str:  # noqa: A002 — the model-facing argument name
        """The current date, time and weekday in a timezone (IANA name such as 'Europe/Paris'; default UTC)."""
        try:
            return current_time(timezone)
        except ValueError as exc:
            raise ToolException(str(exc)) from exc

    return StructuredTool.from_function(
        func=current_time_tool, name="current_time", args_schema=ClockArgs, handle_tool_error=True
    )
