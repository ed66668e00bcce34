"""Any program as a run: ``kind = command``, one task per argument, like HTCondor's queue.

Each task's session runs ``srcnet-task exec`` (:mod:`srcnet_tui.core.task.runner`): the user's argv
under the recorder, without a shell, in the task's own folder, its standard output and error in
files of their own, the task's inputs linked beside it. Templates — ``{run_id}``, ``{task}``
(``task-003``), ``{index}`` (0-based, as HTCondor's ``$(Process)`` and Kubernetes'
``JOB_COMPLETION_INDEX``), ``{arg}`` and ``{timestamp}`` (UTC, sortable) — in the command, env,
products and file names are expanded once, here, so the ledger keeps the values and a resume
reuses them. The Kubernetes and HTCondor kinds (:mod:`.k8s`, :mod:`.condor`) read their files
into the same settings and are planned by this module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from srcnet_tui.core.runs.config import RunConfig
from srcnet_tui.core.runs.plan import given
from srcnet_tui.core.runs.spec import EXEC_MODE, TaskSpec
from srcnet_tui.core.skaha_rules import arg_problem

if TYPE_CHECKING:
    from srcnet_tui.core.runs.plan import Plan, TaskBuilder

TEMPLATES = ("run_id", "task", "index", "arg", "timestamp")


def task_arguments(config: RunConfig) -> list[str]:
    """One entry per task: ``arguments``, the lines of ``arguments_file``, or one task without an argument."""
    if config.arguments is not None:
        return list(config.arguments)
    if config.arguments_file is not None:
        lines = Path(config.arguments_file).read_text(encoding="utf-8").splitlines()
        found = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not found:
            raise config.error("arguments_file", f"{config.arguments_file} holds no arguments")
        return found
    return [""]


def expand(config: RunConfig, key: str, text: str, values: dict[str, str]) -> str:
    """``text`` with its templates filled in; an unknown one is refused naming ``key``."""
    try:
        return text.format_map(values)
    except (KeyError, AttributeError, IndexError, ValueError) as exc:
        known = ", ".join(f"{{{name}}}" for name in TEMPLATES)
        raise config.error(key, f"{text!r}: bad template {exc} (known: {known}; write {{{{ and }}}} for braces)") from None


def refuse_unpassable(config: RunConfig, key: str, argv: list[str]) -> None:
    """Skaha splits ``args`` at spaces and Kubernetes expands ``$(NAME)`` in them: refuse what would not arrive intact."""
    for arg in argv:
        problem = arg_problem(arg) or ("Kubernetes would expand '$(' in it" if "$(" in arg else None)
        if problem:
            raise config.error(key, f"argument {arg!r} cannot reach the session: {problem}")


@dataclass(frozen=True)
class CommandKind:
    """Tasks that run the configured command, one per argument."""

    name: str = "command"

    def plan(self, builder: TaskBuilder) -> Plan:
        config = builder.config
        folder = f"{builder.output_dir}/inputs"
        definition = builder.staged_definition(folder)
        inputs = [builder.staged(path, "inputs", folder) for path in config.inputs]
        arguments = task_arguments(config)
        tasks = [self._task(builder, number, arg, inputs, len(arguments)) for number, arg in enumerate(arguments, start=1)]
        return builder.plan(self.name, tasks, input_data=definition)

    def _task(self, builder: TaskBuilder, number: int, arg: str, inputs: list[str], count: int) -> TaskSpec:
        config = builder.config
        values = {"run_id": builder.run_id, "task": f"task-{number:03d}", "index": str(number - 1), "arg": arg}
        values["timestamp"] = builder.timestamp
        argv = [expand(config, "command", part, values) for part in given(config, "command", config.command)]
        refuse_unpassable(config, "command", argv)
        stdout = expand(config, "stdout", given(config, "stdout", config.stdout), values)
        stderr = expand(config, "stderr", given(config, "stderr", config.stderr), values)
        products = tuple(expand(config, "products", glob, values) for glob in config.products)
        profile_log = Path(config.profile_log).name
        named_log = expand(config, "profile_log", profile_log, values) if "{" in profile_log else None
        outputs = builder.outputs(number, count, stdout, named_log, catalogues=())
        if products:  # the logs come back with the products the user named
            outputs = replace(outputs, products=(outputs.profile_log, outputs.summary, stdout, stderr, *products))
        env = {name: expand(config, "env", value, values) for name, value in config.task_env.items()}
        args = [
            EXEC_MODE,
            "--out", outputs.directory,
            "--log", outputs.profile_log,
            "--stdout", stdout,
            "--stderr", stderr,
            "--interval", f"{config.interval:g}",
        ]  # fmt: skip
        for path in inputs:
            args += ["--input", path]
        for key, name in (("stdout", stdout), ("stderr", stderr), ("profile_log", outputs.profile_log)):
            builder.check_arg(name, key)
        return builder.task(number, outputs, [*args, "--", *argv], env=env)


KIND = CommandKind()
