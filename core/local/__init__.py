"""The local backend: a Skaha v1 server on this machine whose sessions are real local processes.

``srcnet-tui --headless serve-local`` runs it in the foreground; :func:`srcnet_tui.core.local.daemon.ensure_running`
starts it detached (or reuses the one already serving the state folder) for the CLI and the TUI.
Clients written for CANFAR work against it unchanged.

Modules, outside in:

- ``server``    HTTP (stdlib ThreadingHTTPServer): Skaha paths, cadc-rest parameter rules, bearer auth,
                fault injection, Skaha's error texts and content types.
- ``context``   what this machine offers (/context, /image, /repository) and create validation.
- ``views``     records rendered as Skaha renders them (Session JSON, events table, stats).
- ``scheduler`` admission by cores and RAM, preemption, process lifecycle, TTL, max runtime,
                memory limits, usage sampling, recovery after a restart.
- ``priority``  Kueue's rules: interactive before headless, strict FIFO within a priority, whom to evict.
- ``memory``    memory limits by sampling: when to look again, the OOMKilled event.
- ``procs``     starting the shim detached, liveness by (pid, create time), ending whole trees.
- ``shim``      the parent of every session command: captures output, records the exit status.
- ``journal``   session records: one append-only journal, group-committed (one fdatasync per batch of
                concurrent changes), plus a snapshot; replay is idempotent.
- ``store``     the state folder, written atomically (see its docstring for the layout).
- ``service``   one server per state folder (flock), ``server.json`` for clients, signals.
- ``daemon``    ``ensure_running(state_dir) -> Endpoint(url, token)`` (replaces a daemon of other code)
                and ``stop(state_dir)``.
- ``faults``    latency, 503 answers, connections dropped after acting, forced preemption (tests and benchmarks).
"""
