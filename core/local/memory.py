"""Memory limits as Kubernetes enforces them, by sampling: when to look at a session again, and what an OOM kill says.

On CANFAR a session's requested RAM is its container's memory limit, and the kernel kills a
container that goes over it (``OOMKilled``, exit code 137). The local server has no cgroup of its
own to give each session, so it samples the RSS of each session's process tree and kills the tree
once it is over the limit. The less headroom a session has left, the sooner it is sampled again:
the interval is the time a fast allocation would take to fill the headroom, between the monitor's
tick and the usual usage-sampling interval, so an idle or modest session costs one sample a second.
"""

from __future__ import annotations

FAST_ALLOCATION_BYTES_PER_S = 2e9
"""Roughly how fast one process can touch fresh memory (page faults included) on a current machine."""
OOM_EXIT_CODE = 137  # 128 + SIGKILL, what Kubernetes reports for an OOMKilled container


def next_sample_in(headroom_bytes: float, shortest_s: float, longest_s: float) -> float:
    """Seconds until the next sample of a session ``headroom_bytes`` below its memory limit."""
    return min(longest_s, max(shortest_s, headroom_bytes / FAST_ALLOCATION_BYTES_PER_S))


def oom_event(rss_bytes: int, limit_bytes: int) -> tuple[str, str, str]:
    """The event of a session killed for going over its memory limit (decimal GB, as Skaha shows memory)."""
    return (
        "Warning",
        "OOMKilled",
        f"Container main was OOMKilled: its processes used {rss_bytes / 1e9:.2f} GB, "
        f"over its memory limit of {limit_bytes / 1e9:.2f} GB",
    )
