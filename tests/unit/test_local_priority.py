"""Kueue's rules as the local server applies them: queue order, whom an interactive session evicts, memory sampling pace."""

from __future__ import annotations

from srcnet_tui.core.local.memory import next_sample_in, oom_event
from srcnet_tui.core.local.priority import AdmissionQueue, victims_for


def record(session_id: str, kind: str = "headless", cores: float = 1, ram: float = 1, started: float = 0.0) -> dict:
    return {"id": session_id, "type": kind, "cores": cores, "ram": ram, "started": started}


def demand(r: dict) -> tuple[float, float]:
    return r["cores"], r["ram"]


def test_interactive_sessions_are_admitted_before_headless_ones_each_kind_in_queue_order():
    queue = AdmissionQueue()
    for r in (record("h1"), record("n1", "notebook"), record("h2"), record("c1", "carta")):
        queue.add(r)
    assert [r["id"] for r in queue] == ["n1", "c1", "h1", "h2"]
    queue.discard("n1")
    queue.discard("h1")  # admitted, then preempted and queued again: behind the others of its priority
    queue.add(record("h1"))
    assert [r["id"] for r in queue] == ["c1", "h2", "h1"] and len(queue) == 3


def test_the_most_recently_started_headless_session_is_evicted_first_and_only_as_many_as_needed():
    running = [record("old", started=1.0), record("new", started=3.0), record("mid", started=2.0)]
    notebook = record("nb", "notebook", cores=1)
    assert [r["id"] for r in victims_for(notebook, (1, 1), (0, 8), running, demand)] == ["new"]
    assert [r["id"] for r in victims_for(notebook, (2, 1), (0, 8), running, demand)] == ["new", "mid"]


def test_a_victim_made_unnecessary_by_a_later_one_is_given_back():
    running = [record("small", cores=1, started=2.0), record("big", cores=4, started=1.0)]
    chosen = victims_for(record("nb", "desktop", cores=3), (3, 1), (0, 8), running, demand)
    assert [r["id"] for r in chosen] == ["big"]


def test_nothing_is_evicted_when_it_would_not_make_room_or_for_a_headless_session():
    running = [record("a", started=1.0), record("nb", "notebook", started=2.0)]
    assert victims_for(record("nb2", "notebook", cores=2), (2, 1), (0, 8), running, demand) == []
    assert victims_for(record("h", cores=1), (1, 1), (0, 8), running, demand) == []


def test_memory_is_sampled_sooner_the_closer_a_session_is_to_its_limit():
    assert next_sample_in(32e9, 0.1, 1.0) == 1.0
    assert next_sample_in(0.5e9, 0.1, 1.0) == 0.25
    assert next_sample_in(0.0, 0.1, 1.0) == 0.1
    kind, reason, message = oom_event(1_300_000_000, 1_073_741_824)
    assert (kind, reason) == ("Warning", "OOMKilled") and "OOMKilled" in message and "1.30 GB" in message and "1.07 GB" in message
