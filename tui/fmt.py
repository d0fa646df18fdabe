"""Text formatting shared by the screens (plain strings: no colour is needed to read them)."""
from __future__ import annotations

from datetime import datetime

from .clock import Clock


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def num(value, spec: str = ".1f", none: str = "-") -> str:
    return none if value is None else format(value, spec)


def speedup(value: float | None, none: str = "-") -> str:
    return none if value is None else f"{value:.2f}×"


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 1:
        return f"{value:.2f} ms"
    return f"{value * 1000:.0f} µs"


def duration(seconds: float | None) -> str:
    """3s, 4m05s, 2h07m, 3d04h."""
    if seconds is None or seconds < 0:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def started(value: str | None, clock: Clock) -> str:
    """'14:03' today, 'Mar 02' on another day, in the clock's time zone."""
    ts = parse_ts(value)
    if ts is None:
        return "-"
    local, today = clock.local(ts), clock.local(clock.now())
    return local.strftime("%H:%M") if local.date() == today.date() else local.strftime("%b %d")


def clock_time(value: str | None, clock: Clock) -> str:
    ts = parse_ts(value)
    return "--:--:--" if ts is None else clock.local(ts).strftime("%H:%M:%S")


def elapsed_s(run: dict, clock: Clock, earlier_s: float = 0.0) -> float | None:
    """Seconds the run has run: its latest session plus `earlier_s` from sessions before a resume."""
    begin = parse_ts(run.get("started_at") or run.get("created_at"))
    if begin is None:
        return None
    end = parse_ts(run.get("finished_at")) if run.get("status") != "running" else None
    if end is None and run.get("effective_status") == "interrupted":
        end = parse_ts(run.get("heartbeat_at"))
    if end is not None and end < begin:  # finished_at of an earlier session, before this one started
        end = parse_ts(run.get("heartbeat_at")) or begin
    return max(((end or clock.now()) - begin).total_seconds(), 0.0) + (earlier_s or 0.0)


def elapsed(run: dict, clock: Clock, earlier_s: float = 0.0) -> str:
    return duration(elapsed_s(run, clock, earlier_s))


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 run', '2 runs', '0 runs'."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def first_line(text: str | None, width: int = 60) -> str:
    if not text:
        return ""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= width else line[: width - 1] + "…"
    return ""


def bar(done: int, total: int, width: int = 10) -> str:
    """A text progress bar with eighth-block resolution: readable without colour."""
    if total <= 0:
        return "·" * width
    frac = max(0.0, min(1.0, done / total))
    eighths = round(frac * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial).ljust(width, "░")[:width]


def rate(count: float, seconds: float) -> str:
    if seconds <= 0:
        return "-"
    value = count / seconds
    return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.1f}" if value < 10 else f"{value:.0f}"
