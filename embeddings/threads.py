"""How many cores this process may use, and how many other processes are busy on right now."""

from __future__ import annotations

import os


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_cores() -> int:
    """Threads of *other* processes running right now: ``/proc/loadavg`` counts every runnable thread,
    this process's own are subtracted. 0 where there is no /proc."""
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            running = int(fh.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat", encoding="ascii", errors="replace") as fh:
                    own += fh.read().rsplit(")", 1)[1].split()[0] == "R"
            except OSError:
                pass  # the thread ended meanwhile
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - own)
