"""The task images (SoFiA-2's and PyBDSF's), as far as they can be tested without Docker: their structure and scripts."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from srcnet_tui.core.runs.config import DEFAULT_IMAGE

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "image"
DOCKERFILE = (IMAGE / "Dockerfile").read_text()


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


STEPS = instructions(DOCKERFILE)
FINAL_STAGE = STEPS[max(i for i, (op, _) in enumerate(STEPS) if op == "FROM") :]


def test_sofia_is_built_from_upstream_at_a_pinned_release_tag():
    tags = re.findall(r"ARG SOFIA_TAG=(\S+)", DOCKERFILE)
    assert tags and set(tags) == {tags[0]} and re.fullmatch(r"v\d+\.\d+\.\d+", tags[0])
    assert "ARG SOFIA_REPO=https://gitlab.com/SoFiA-Admin/SoFiA-2.git" in DOCKERFILE
    clone = next(args for op, args in STEPS if op == "RUN" and "git" in args and "clone" in args)
    assert '--branch "${SOFIA_TAG}"' in clone and "--depth 1" in clone
    assert "describe --tags --exact-match" in clone  # the checkout is the tag, not a branch of that name


def test_sofia_is_pinned_by_commit_and_the_built_binary_runs_before_the_image_exists():
    commits = re.findall(r"ARG SOFIA_COMMIT=(\S+)", DOCKERFILE)
    assert commits and re.fullmatch(r"[0-9a-f]{8,40}", commits[0])
    clone = next(args for op, args in STEPS if op == "RUN" and "clone" in args)
    assert re.search(r'rev-parse HEAD\)"\s+in\s+"\$\{SOFIA_COMMIT\}"\*\)', clone) and "exit 1" in clone
    build_stage_checks = [
        args for op, args in STEPS[: len(STEPS) - len(FINAL_STAGE)] if op == "RUN" and "check-finder.sh sofia" in args
    ]
    assert build_stage_checks and any(op == "RUN" and "check-finder.sh sofia" in args for op, args in FINAL_STAGE)


def test_the_bdsf_image_installs_a_pinned_pybdsf_and_imports_it_once():
    steps = instructions((IMAGE / "bdsf.Dockerfile").read_text())
    version = next(args.split("=", 1)[1] for op, args in steps if op == "ARG" and args.startswith("BDSF_VERSION="))
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert any(op == "RUN" and '"bdsf==${BDSF_VERSION}"' in args for op, args in steps)
    assert any(op == "RUN" and 'check-finder.sh bdsf "${BDSF_VERSION}"' in args for op, args in steps)
    assert [args for op, args in steps if op == "USER"][-1] not in ("root", "0")
    for op, args in steps:
        if op == "COPY":
            assert all((ROOT / source).exists() for source in args.split()[:-1]), args


def test_image_tag_and_sofia_release_agree():
    tag = re.search(r"ARG SOFIA_TAG=v(\S+)", DOCKERFILE).group(1)
    assert f"images.canfar.net/srcnet/sofia-task:{tag}" == DEFAULT_IMAGE


def test_every_run_step_stops_at_the_first_failure():
    shells = [args for op, args in STEPS if op == "SHELL"]
    assert shells and all('"-o", "pipefail"' in s for s in shells)
    runs = [args for op, args in STEPS if op == "RUN"]
    assert runs and all(args.startswith("set -eux;") for args in runs)
    build = (IMAGE / "build-sofia.sh").read_text()
    assert "set -euo pipefail" in build and "sh -e ./compile.sh" in build


def test_final_stage_runs_as_a_non_root_user_with_srcnet_task_on_path():
    users = [args for op, args in FINAL_STAGE if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(op == "COPY" and "/usr/local/bin/" in args and "image/srcnet-task" in args for op, args in FINAL_STAGE)
    assert any(op == "RUN" and "srcnet-task --help" in args for op, args in FINAL_STAGE)
    assert ("ENTRYPOINT", '["/usr/local/bin/entrypoint.sh"]') in FINAL_STAGE


def test_everything_copied_from_the_repository_exists():
    for op, args in STEPS:
        if op == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source


def copied_python() -> dict[Path, str]:
    """Each Python source the final stage copies from the repository -> where it lands in the image."""
    copied = {}
    for op, args in FINAL_STAGE:
        if op != "COPY" or args.startswith("--from"):
            continue
        *sources, target = args.split()
        for source in sources:
            path = ROOT / source
            files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.suffix == ".py" else []
            for file in files:
                inside = file.relative_to(path) if path.is_dir() else Path(file.name)
                copied[file] = str(Path(target) / inside)
    return copied


def test_the_copied_python_needs_only_the_standard_library_and_psutil():
    copied = copied_python()
    assert {p.name for p in copied} >= {"recorder.py", "runner.py", "bdsf.py"}
    allowed = set(sys.stdlib_module_names) | {"psutil", "srcnet_tui", "bdsf"}  # bdsf: the finder its wrapper drives
    for path in copied:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
                if node.module.startswith("srcnet_tui"):
                    assert node.module.startswith("srcnet_tui.core.task"), f"{path.name} imports {node.module}"
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


# --- the scripts, run for real -------------------------------------------------------------------

RECORD_ARGS = f"""#!{sys.executable}
import json, sys
print(json.dumps({{"program": sys.argv[0].rsplit("/", 1)[-1], "argv": sys.argv[1:]}}))
"""


@pytest.fixture
def fake_bin(tmp_path):
    """PATH with stand-ins for srcnet-task and sofia that print the arguments they received."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("srcnet-task", "sofia"):
        (folder / name).write_text(RECORD_ARGS)
        (folder / name).chmod(0o755)
    return folder


def run_entrypoint(args, path: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": path, "HOME": str(cwd)}
    return subprocess.run(
        ["bash", str(IMAGE / "entrypoint.sh"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=30
    )


def received(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_entrypoint_without_arguments_describes_the_image(tmp_path, fake_bin):
    result = run_entrypoint([], f"{fake_bin}:/usr/bin:/bin", tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("srcnet sofia-task image: sofia ")
    assert received(result) == {"program": "srcnet-task", "argv": ["--help"]}


def test_entrypoint_passes_options_to_srcnet_task_and_runs_programs_untouched(tmp_path, fake_bin):
    hostile = ["--par", "a b;touch pwned.par", "--data", "$(touch x).fits", "`touch y`"]
    result = run_entrypoint(hostile, f"{fake_bin}:/usr/bin:/bin", tmp_path)
    assert received(result) == {"program": "srcnet-task", "argv": hostile}
    result = run_entrypoint(["sofia", "my file.par", "input.region=0,9,0,9,0,9"], f"{fake_bin}:/usr/bin:/bin", tmp_path)
    assert received(result) == {"program": "sofia", "argv": ["my file.par", "input.region=0,9,0,9,0,9"]}
    assert not {"pwned.par", "x", "y"} & {p.name for p in tmp_path.rglob("*")}


def test_image_wrapper_runs_the_task_runner_from_the_copied_files_alone(tmp_path):
    """image/srcnet-task runs srcnet_tui.core.task.runner from the files the Dockerfile copies, laid out as in the image."""
    image_root = tmp_path / "image"
    for source, target in copied_python().items():
        (image_root / target.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (image_root / target.lstrip("/")).write_bytes(source.read_bytes())
    python_dir = Path(sys.executable).parent  # holds python3, as /usr/bin does in the image
    env = {"PATH": f"{python_dir}:/usr/bin:/bin", "PYTHONPATH": str(image_root / "opt/srcnet"), "HOME": str(tmp_path)}
    result = subprocess.run(["sh", str(IMAGE / "srcnet-task"), "--help"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "usage: srcnet-task" in result.stdout
    where = "import srcnet_tui.core.task.runner as r; print(r.__file__)"
    located = subprocess.run([sys.executable, "-c", where], env=env, capture_output=True, text=True, timeout=30)
    assert located.stdout.strip() == str(image_root / "opt/srcnet/srcnet_tui/core/task/runner.py")


def test_build_script_fails_when_a_compile_step_fails_though_compile_sh_ends_well(tmp_path):
    source = tmp_path / "SoFiA-2"
    source.mkdir()
    # Like upstream: no `set -e`, a failing compiler step, then a cheerful echo.
    (source / "compile.sh").write_text("#!/bin/sh\necho '  Compiling sofia.c'\nfalse\necho ' Installation complete'\n")
    assert subprocess.run(["sh", "compile.sh"], cwd=source, capture_output=True).returncode == 0  # upstream "succeeds"
    build = subprocess.run(
        ["bash", str(IMAGE / "build-sofia.sh"), str(source), str(tmp_path / "bin")], capture_output=True, text=True
    )
    assert build.returncode != 0
    assert not (tmp_path / "bin" / "sofia").exists()


def test_build_script_refuses_a_run_that_leaves_no_binary_and_installs_a_good_one(tmp_path):
    source = tmp_path / "SoFiA-2"
    source.mkdir()
    (source / "compile.sh").write_text("#!/bin/sh\necho nothing built\n")
    build = subprocess.run(
        ["bash", str(IMAGE / "build-sofia.sh"), str(source), str(tmp_path / "bin")], capture_output=True, text=True
    )
    assert build.returncode == 1 and "produced no sofia binary" in build.stderr
    (source / "compile.sh").write_text("#!/bin/sh\nprintf '#!/bin/sh\\necho SoFiA %s\\n' \"$1\" > sofia\nchmod +x sofia\n")
    build = subprocess.run(
        ["bash", str(IMAGE / "build-sofia.sh"), str(source), str(tmp_path / "bin")], capture_output=True, text=True
    )
    assert build.returncode == 0, build.stderr
    installed = subprocess.run([str(tmp_path / "bin" / "sofia")], capture_output=True, text=True)
    assert installed.stdout == "SoFiA -fopenmp\n"  # compile.sh got upstream's OpenMP flag


def fake_sofia(folder: Path, version: str, status: int) -> None:
    (folder / "sofia").write_text(f"#!/bin/sh\necho '  Version:  {version} (24-Jun-2022)'\nexit {status}\n")
    (folder / "sofia").chmod(0o755)


@pytest.mark.parametrize(
    ("version", "status", "ok"),
    [("2.5.0", 7, True), ("2.4.1", 7, False), ("2.5.0", 139, False)],
    ids=["right", "other-release", "crashes"],
)
def test_check_finder_accepts_only_the_pinned_release_that_runs(tmp_path, version, status, ok):
    fake_sofia(tmp_path, version, status)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    checked = subprocess.run(
        ["bash", str(IMAGE / "check-finder.sh"), "sofia", "2.5.0"], env=env, capture_output=True, text=True, timeout=30
    )
    assert (checked.returncode == 0) is ok, checked.stderr
    assert ok or "did not run as SoFiA-2 2.5.0" in checked.stderr


def test_entrypoint_of_the_bdsf_image_names_its_finder(tmp_path, fake_bin):
    (tmp_path / "bdsf").mkdir()
    (tmp_path / "bdsf" / "__init__.py").write_text("__version__ = '1.14.1'\n")
    python_dir = Path(sys.executable).parent
    env = {"PATH": f"{fake_bin}:{python_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(tmp_path)}
    env |= {"SRCNET_IMAGE": "bdsf-task", "SRCNET_FINDER": "bdsf"}
    result = subprocess.run(
        ["bash", str(IMAGE / "entrypoint.sh")], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.stdout.startswith(f"srcnet bdsf-task image: bdsf {tmp_path / 'bdsf' / '__init__.py'}, srcnet-task ")


def test_scripts_are_executable():
    for name in ("entrypoint.sh", "build-sofia.sh", "srcnet-task", "check-finder.sh"):
        assert os.access(IMAGE / name, os.X_OK), name
