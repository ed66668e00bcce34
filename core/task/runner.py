"""``srcnet-task``: what one session of a run executes — the source finder under the recorder.

The seed built ``psrecord "sofia ..."`` by f-string and ran it through two shells, lost SoFiA's
exit status and wrote into folders that did not exist. This runner takes its inputs as separate
arguments (Skaha passes them without a shell), maps ``/arc/...`` through ``$SRCNET_ARC_ROOT`` when
the local server sets it, creates the output folder, and runs

    sofia PARFILE input.data=… output.directory=… output.filename=… pipeline.threads=N
          output.overwrite=true [input.region=… parameter.offset=true]

(or the PyBDSF driver) as an argument list under ``srcnet_tui.core.task.recorder``. The finder's output goes both
to the session log and to a finder log beside the profile log and its summary. SoFiA-2's exit 8
("no sources found") is a result: the task exits 0 and the summary says so; any other failure
exits with the finder's status.

``srcnet-task exec --out DIR --log LOG [--stdout F] [--stderr F] [--input PATH ...] -- CMD [ARG ...]``
runs any program the same way (workloads of ``kind = command``, Kubernetes Jobs, HTCondor submit
files): in DIR, with each input linked there first (and unlinked after, so it is not collected as a
product), standard output and error each in a file of their own and in the session log, its exit
status the task's. A staged script that lost its executable bit is run by its ``#!`` line, as the
kernel would run it.

It depends on the standard library and srcnet_tui.core.task.recorder only, so the task image can carry it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from srcnet_tui.core.task.recorder import summary_path

NO_SOURCES = 8  # SoFiA-2: "No sources left after linking." / "No reliable sources found."
NOT_FOUND = 127
FINDERS = ("sofia", "bdsf")
BDSF_MODULE = "srcnet_tui.core.task.bdsf"
EXEC = "exec"
USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srcnet-task", description="Run a source finder under the recorder.")
    parser.add_argument("--finder", choices=FINDERS, default="sofia")
    parser.add_argument("--par", required=True, help="parameter file")
    parser.add_argument("--data", required=True, help="input cube or image (FITS)")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--filename", required=True, help="base name of every product (output.filename)")
    parser.add_argument("--threads", type=int, default=1, help="threads for the finder (the session's cores)")
    parser.add_argument("--region", help="x_min,x_max,y_min,y_max,z_min,z_max (0-based, inclusive)")
    parser.add_argument("--log", default="sofia_profile.txt", help="profile log name, in the output folder")
    parser.add_argument("--finder-log", help="finder output log name, in the output folder (default FILENAME_FINDER.log)")
    parser.add_argument("--interval", type=float, default=1.0, help="recorder sampling interval, seconds")
    return parser


STORAGE_ROOTS = ("/arc", "/cavern")
"""Where users' files live on a site (CANFAR's /arc, the SRCNet sites' /cavern)."""


def arc_path(path: str, arc_root: str | None = None) -> Path:
    """``/arc/...`` (or ``/cavern/...``) → ``$SRCNET_ARC_ROOT/...`` when the local server plays the site's
    storage; other paths unchanged."""
    for root in STORAGE_ROOTS if arc_root else ():
        if path == root or path.startswith(root + "/"):
            return Path(arc_root or "") / path[len(root) + 1 :]
    return Path(path)


def finder_command(args: argparse.Namespace, par: Path, data: Path, out: Path) -> list[str]:
    """The finder's argument list; every value is one argument, never parsed by a shell."""
    if args.finder == "bdsf":
        command = [sys.executable, "-m", BDSF_MODULE, "--par", str(par), "--data", str(data), "--out", str(out)]
        command += ["--filename", args.filename, "--threads", str(args.threads)]
        return command + (["--region", args.region] if args.region else [])
    command = [
        "sofia", str(par),
        f"input.data={data}",
        f"output.directory={out}",
        f"output.filename={args.filename}",
        f"pipeline.threads={args.threads}",
        "output.overwrite=true",  # a retried task must not stop at its own earlier products
    ]  # fmt: skip
    if args.region:
        # Catalogue positions in whole-cube pixels, so the merge can compare tasks.
        command += [f"input.region={args.region}", "parameter.offset=true"]
    return command


def recorder_command(command: list[str], log: Path, interval: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "srcnet_tui.core.task.recorder",
        "--log",
        str(log),
        "--interval",
        f"{interval:g}",
        "--",
        *command,
    ]


def run_teed(command: list[str], log_path: Path, error_path: Path | None = None) -> int:
    """Run ``command``, copying its output to our stdout and to ``log_path`` (its standard error too,
    unless ``error_path`` gets it, copied to our stderr); forward SIGTERM/SIGINT."""
    with log_path.open("ab") as log, (error_path or log_path).open("ab") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE if error_path else subprocess.STDOUT)
        assert process.stdout is not None  # stdout=PIPE
        previous = {sig: signal.signal(sig, lambda s, _f: process.send_signal(s)) for sig in (signal.SIGTERM, signal.SIGINT)}
        copier = None
        if process.stderr is not None:
            copier = threading.Thread(target=_copy, args=(process.stderr, errors, sys.stderr.buffer), daemon=True)
            copier.start()
        try:
            _copy(process.stdout, log, sys.stdout.buffer)
            if copier:
                copier.join()
            return process.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _copy(pipe: IO[bytes], log: IO[bytes], ours: IO[bytes]) -> None:
    """Everything ``pipe`` says, into ``log`` and ``ours`` as it comes."""
    output = pipe.fileno()
    for chunk in iter(lambda: os.read(output, 65536), b""):
        log.write(chunk)
        log.flush()
        ours.write(chunk)
        ours.flush()


def exit_status(returncode: int) -> int:
    """A process's status as an exit code: 128 + N when it was killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def annotate_summary(log: Path, finder: str, finder_status: int | None, task_status: int, note: str | None) -> None:
    """Add the finder's verdict to the recorder's summary JSON (written atomically); ``finder_status``
    None: not a finder, the task's status is the program's."""
    path = summary_path(log)
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        summary = {}
    summary.update({"finder": finder, "finder_exit_code": finder_status, "task_exit_code": task_status})
    if note:
        summary["note"] = note
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(temporary, path)


def build_exec_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srcnet-task exec", description="Run a program under the recorder, in its task folder.")
    parser.add_argument("--out", required=True, help="the task's folder (created; the program runs in it)")
    parser.add_argument("--log", required=True, help="profile log name, in the task's folder")
    parser.add_argument("--stdout", default="stdout.txt", help="file for the program's standard output")
    parser.add_argument("--stderr", default="stderr.txt", help="file for the program's standard error")
    parser.add_argument("--input", action="append", default=[], help="a file linked into the task's folder first")
    parser.add_argument("--interval", type=float, default=1.0, help="recorder sampling interval, seconds")
    return parser


def by_its_interpreter(command: list[str]) -> list[str]:
    """``command``, with a script that is not executable (a staged copy loses its mode) run by its ``#!`` line."""
    script = Path(command[0])
    if os.sep not in command[0] or not script.is_file() or os.access(script, os.X_OK):
        return command
    with script.open("rb") as handle:
        first = handle.readline().decode(errors="replace")
    return [*first[2:].split(), *command] if first.startswith("#!") else command


def link_inputs(inputs: list[Path], folder: Path) -> list[Path]:
    """Each input linked into ``folder`` under its own name; the links made (an existing file is kept)."""
    made = []
    for source in inputs:
        link = folder / source.name
        if not link.exists():
            link.symlink_to(source)
            made.append(link)
    return made


def exec_main(argv: list[str]) -> int:
    ours, command = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    args = build_exec_parser().parse_args(ours)
    if not command:
        print("srcnet-task exec: no command after --", file=sys.stderr)
        return USAGE_ERROR
    arc_root = os.environ.get("SRCNET_ARC_ROOT")
    out = arc_path(args.out, arc_root)
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(out)  # the program's relative paths are its task folder, as in an HTCondor job's scratch folder
    links = link_inputs([arc_path(path, arc_root) for path in args.input], out)
    command = by_its_interpreter(
        [
            str(arc_path(part, arc_root)) if part.startswith(tuple(f"{root}/" for root in STORAGE_ROOTS)) else part
            for part in command
        ]
    )
    if shutil.which(command[0]) is None:
        print(f"srcnet-task: {command[0]}: not found", file=sys.stderr)
        return NOT_FOUND
    log = out / args.log
    try:
        status = exit_status(run_teed(recorder_command(command, log, args.interval), out / args.stdout, out / args.stderr))
    finally:
        for link in links:
            link.unlink(missing_ok=True)
    annotate_summary(log, Path(command[0]).name, None, status, None)
    print(f"srcnet-task: {Path(command[0]).name} exited with {status}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [EXEC]:
        return exec_main(argv[1:])
    args = build_parser().parse_args(argv)
    arc_root = os.environ.get("SRCNET_ARC_ROOT")
    par, data, out = (arc_path(p, arc_root) for p in (args.par, args.data, args.out))
    for what, path in (("parameter file", par), ("input", data)):
        if not path.is_file():
            print(f"srcnet-task: {what} {path}: no such file", file=sys.stderr)
            return 2
    out.mkdir(parents=True, exist_ok=True)
    command = finder_command(args, par, data, out)
    if shutil.which(command[0]) is None:
        print(f"srcnet-task: {command[0]}: not found on PATH", file=sys.stderr)
        return NOT_FOUND
    log = out / args.log
    finder_log = out / (args.finder_log or f"{args.filename}_{args.finder}.log")
    finder_status = exit_status(run_teed(recorder_command(command, log, args.interval), finder_log))
    note = None
    status = finder_status
    if finder_status == NO_SOURCES:
        note = "no sources found"
        status = 0
    annotate_summary(log, args.finder, finder_status, status, note)
    print(f"srcnet-task: {args.finder} exited with {finder_status}" + (f" ({note})" if note else ""), file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
