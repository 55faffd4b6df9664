"""Human-readable sizes, durations and container states, exactly as Docker
prints them (docker/go-units), shared by the CLI and the TUI."""

from __future__ import annotations

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def size_text(n: float, precision: int = 4) -> str:
    """go-units ``HumanSizeWithPrecision`` (``HumanSize`` is precision 4;
    the ``docker images`` SIZE column uses precision 3)."""
    size, i = float(n), 0
    while size >= 1000.0 and i < len(_DECIMAL) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_DECIMAL[i]}"


def human_duration(d: float) -> str:
    # go-units HumanDuration (released version: rounds hours, floors above).
    seconds = int(d)
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = int(d / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(d / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(d / 3600) // 24 // 365} years"


def since_text(ts: float, now: float) -> str:
    """The CREATED column: "3 minutes ago", "About an hour ago", …"""
    return human_duration(now - ts) + " ago"


def status_text(state: str, exit_code: int, started_at: float, finished_at: float,
                now: float, *, restart_count: int = 0) -> str:
    """``docker ps`` STATUS: "Up 3 minutes", "Exited (137) 2 hours ago", …"""
    if state in ("running", "paused"):
        text = "Up " + human_duration(now - started_at)
        return text + " (Paused)" if state == "paused" else text
    if state == "restarting":
        return f"Restarting ({exit_code}) {since_text(finished_at, now)}"
    if state == "created":
        return "Created"
    if state == "removing":
        return "Removal In Progress"
    if state == "dead":
        return "Dead"
    if not finished_at:
        return f"Exited ({exit_code})"
    return f"Exited ({exit_code}) {since_text(finished_at, now)}"
