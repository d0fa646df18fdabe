"""The app's notion of 'now', injectable so screenshots and snapshot tests are deterministic."""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo


class Clock:
    """Wall-clock time, shown in the local time zone."""

    def __init__(self, tz: tzinfo | None = None):
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def local(self, value: datetime) -> datetime:
        return value.astimezone(self.tz)


class FrozenClock(Clock):
    """A clock stopped at one instant (UTC unless told otherwise)."""

    def __init__(self, at: datetime | str, tz: tzinfo | None = timezone.utc):
        super().__init__(tz)
        self.at = datetime.fromisoformat(at) if isinstance(at, str) else at
        if self.at.tzinfo is None:
            self.at = self.at.replace(tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.at
