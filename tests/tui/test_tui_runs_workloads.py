"""Runs pane: "valid" means what ``--dry-run`` checks, any workload file opens and launches, and a
finished run's storage footprint is shown and cleaned after a preview and a confirmation."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES
from textual.widgets import Input
from tui_support import app_for, notifications, screen_text, seed_folder, wait_until

from srcnet_tui.tui.screens.modals import ConfirmModal, ProblemModal, PromptModal, TextModal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORKLOADS = FIXTURES / "workloads"
SECRET = "t1-s3cret-value"


async def open_file(pilot, app, text: str) -> None:
    """``o``, then the opener's line (a file, and for a manifest its volume mounts)."""
    app.query_one("#runs-ledger").focus()
    await pilot.press("o")
    await wait_until(pilot, lambda: isinstance(app.screen, PromptModal))
    app.screen.query_one("Input").value = text
    await pilot.press("enter")


async def test_the_form_refuses_what_the_run_would_refuse_and_marks_the_field(local_server, tmp_path):
    """The seed's cube is on /arc but not there: --dry-run refuses it, so the form is not "valid"."""
    folder = seed_folder(tmp_path)
    app = app_for(local_server, start_pane="runs")
    async with app.run_test(size=(100, 40)) as pilot:
        form = app.query_one("#runs-pane").form
        await open_file(pilot, app, str(folder / "config.ini"))
        await wait_until(pilot, lambda: form.problem is not None, message="the refusal")
        assert "[sofia-parallel] image_file: no such file: /arc/projects/WALLABY_test/mw/norma.image.fits" in form.problem
        assert app.query_one("#field-image_file").has_class("error")
        assert form.plan is None and "✓ valid" not in screen_text(app)


def primes_config(folder: Path) -> Path:
    """The command example over two small arguments, one product removable, with a secret in its env."""
    folder.mkdir()
    shutil.copy(EXAMPLES / "command" / "primes.py", folder)
    text = (EXAMPLES / "command" / "primes.ini").read_text()
    text = text.replace("arguments = 20000 40000 60000 80000", "arguments = 200 400")
    text = text.replace("vos_dir = /arc/home/demo/srcnet-examples", f"vos_dir = /arc/home/demo/{folder.name}")
    config = folder / "primes.ini"
    config.write_text(text + "remove = primes-200.txt\nsecret_env = T1_TOKEN\n")
    return config


COMMAND_FIELDS = ("command", "arguments", "arguments_file", "products", "inputs", "stdout", "stderr", "env", "env_file",
                  "env_preset", "secret_env", "keep", "remove")  # fmt: skip
FINDER_FIELDS = ("image_file", "parameter_file", "parameter_file_dir", "finder", "split", "overlap", "region_max_gb")


async def type_into(pilot, app, key: str, text: str) -> None:
    """Into the form (``e``, unless already in it), by the shorter way round with ↑/↓ to ``key``'s field
    (arriving selects its text), and type ``text`` over its value."""
    form = app.query_one("#runs-pane").form
    if not isinstance(app.focused, Input):
        await pilot.press("e")
    fields, target = form.fields, app.query_one(f"#field-{key}")
    steps = (fields.index(target) - fields.index(app.focused)) % len(fields)
    if steps == 0:
        await pilot.press("down", "up")
    await pilot.press(*(["down"] * steps if steps <= len(fields) / 2 else ["up"] * (len(fields) - steps)))
    assert app.focused is target
    await pilot.press(*text)
    await wait_until(pilot, lambda: form.draft.values.get(key) == text, message=f"{key} typed")


async def test_a_command_section_is_edited_with_the_command_keys_and_saved_keeping_its_comments(
    local_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("T1_TOKEN", SECRET)
    config = primes_config(tmp_path / "primes")
    app = app_for(local_server, start_pane="runs")
    async with app.run_test(size=(100, 40)) as pilot:
        form = app.query_one("#runs-pane").form
        await open_file(pilot, app, str(config))
        await wait_until(pilot, lambda: form.plan is not None, message="the plan")
        assert all(app.query(f"#field-{key}") for key in COMMAND_FIELDS)
        assert not any(app.query(f"#field-{key}") for key in FINDER_FIELDS)
        assert app.query_one("#field-secret_env", Input).value == "T1_TOKEN" and SECRET not in screen_text(app)

        await type_into(pilot, app, "stdout", "o/x")
        await wait_until(pilot, lambda: form.problem is not None, message="the refusal")
        assert "primes.ini [primes] stdout: must be a file name" in form.problem
        assert app.query_one("#field-stdout").has_class("error")
        await pilot.press("ctrl+s")  # refused: nothing is written
        assert "o/x" not in config.read_text()

        await type_into(pilot, app, "stdout", "x.o")
        await type_into(pilot, app, "arguments", "7 9 11")
        await wait_until(pilot, lambda: form.plan is not None and len(form.plan.tasks) == 3, message="three tasks")
        assert "python3 primes.py 11 --out" in screen_text(app)
        before = config.read_text()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: config.read_text() != before, message="the save")
    after = config.read_text()
    assert after == before.replace("arguments = 200 400", "arguments = 7 9 11") + "stdout = x.o\n"
    assert "# the task image built from image/" in after


async def test_a_command_run_launches_then_shows_its_footprint_and_cleans_after_a_confirmation(
    local_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("T1_TOKEN", SECRET)
    config = primes_config(tmp_path / "primes")
    app = app_for(local_server, start_pane="runs")
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        runs = app.query_one("#runs-pane")
        await open_file(pilot, app, str(config))
        await wait_until(pilot, lambda: runs.form.plan is not None, message="the plan")
        text = screen_text(app)
        assert "2 tasks" in text and "python3 primes.py 200 --out" in text and "T1_TOKEN=***" in text
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, TextModal))
        details = app.screen.query_one("#text-body").render()
        assert "task-002" in str(details) and "env T1_TOKEN=***" in str(details) and SECRET not in str(details)
        await pilot.press("escape")
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        ledger = runs.ledger
        await wait_until(pilot, lambda: any(": 2 completed" in n for n in notifications(app)), timeout_s=60, message="the run")
        await wait_until(pilot, lambda: len(ledger.runs) == 1, message="the run in the ledger")
        [run_id] = ledger.runs
        await wait_until(pilot, lambda: run_id in ledger.footprints, message="the footprint")
        kept, removable = ledger.footprints[run_id].split("/")
        assert removable != "0"
        await wait_until(pilot, lambda: ledger.footprints[run_id] in screen_text(app), message="the footprint shown")
        remote = local_server.state_dir / "arc/home/demo/primes" / run_id
        [kept_product] = remote.rglob("primes-400.txt")
        [removed_product] = remote.rglob("primes-200.txt")
        good = kept_product.read_bytes()
        kept_product.write_bytes(b"X" + good[1:])  # a kept product damaged on storage: nothing may be removed

        ledger.focus()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), message="clean's preview")
        body = app.screen._body
        assert body.startswith(f"Remove the 1 file of run {run_id} marked remove (155)?") and "total" in body
        assert "remove  task-001/primes-200.txt  (config remove)" in body and "keep    task-002/primes-400.txt" in body
        await pilot.press("y")
        await wait_until(pilot, lambda: any("nothing removed" in n for n in notifications(app)), message="the refusal")
        refusal = next(n for n in notifications(app) if "nothing removed" in n)
        assert "\n" not in refusal and "primes-400.txt" in refusal and removed_product.exists()

        kept_product.write_bytes(good)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")  # declined: nothing happens
        assert removed_product.exists()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_until(pilot, lambda: any(f"Run {run_id}: removed 1 file" in n for n in notifications(app)))
        assert not removed_product.exists() and kept_product.exists()
        await wait_until(pilot, lambda: ledger.footprints.get(run_id, "").endswith("/0"), message="the new footprint")
    state = local_server.state_dir  # the secret reached the session, and nothing but the local server's store of them
    ours = [p for p in state.rglob("*") if p.is_file() and p.relative_to(state).parts[0] != "local"]
    assert not [p for p in ours if SECRET.encode() in p.read_bytes()]


async def test_job_manifests_and_submit_files_open_with_their_tasks_env_and_size_and_a_job_launches(local_server):
    workflow = local_server.state_dir / "arc/home/demo/workflow"  # the stand-in on the local backend's /arc
    workflow.mkdir(parents=True)
    shutil.copy(EXAMPLES / "k8s" / "aastar_standin.py", workflow)
    app = app_for(local_server, start_pane="runs")
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        form = app.query_one("#runs-pane").form
        await open_file(pilot, app, str(WORKLOADS / "karabo" / "job.yaml"))
        await wait_until(pilot, lambda: isinstance(app.screen, ProblemModal), message="the unmapped volumes named")
        assert "persistentVolumeClaim tmp-pvc" in app.screen._body.plain and "--mount tmp=/arc/" in app.screen._body.plain
        await pilot.press("escape")

        await open_file(pilot, app, f"{EXAMPLES / 'k8s' / 'aastar-job.yaml'} workflow=/arc/home/demo/workflow")
        await wait_until(pilot, lambda: form.plan is not None, message="the Job's plan")
        text = screen_text(app)
        assert "2 tasks" in text and "aastar-job.yaml [Job aastar-standin]" in text and "GiB of products" in text
        assert [t.env["JOB_COMPLETION_INDEX"] for t in form.plan.tasks] == ["0", "1"]
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "Launch 2 sessions (1 core, 1 GiB RAM each)" in app.screen._body and "[Job aastar-standin]" in app.screen._body
        await pilot.press("y")
        await wait_until(pilot, lambda: any(": 2 completed" in n for n in notifications(app)), timeout_s=60, message="the Job")

        await open_file(pilot, app, str(WORKLOADS / "condor" / "do_catalogue.sub"))
        await wait_until(pilot, lambda: form.problem or (form.plan and form.plan.run_kind == "condor"), message="the plan")
        assert form.problem is None, form.problem
        assert len(form.plan.tasks) == 4 and "./do_catalogue.bash 1056215p" in screen_text(app)


def test_the_opener_tells_workload_files_from_configs_and_reads_mounts(tmp_path):
    from srcnet_tui.core.errors import UsageError
    from srcnet_tui.tui.runs_adapter import is_workload_file, opened_file

    assert is_workload_file(WORKLOADS / "karabo" / "cronjob.yaml") and is_workload_file(WORKLOADS / "condor" / "do_catalogue.sub")
    assert not is_workload_file(EXAMPLES / "command" / "primes.ini")
    sectioned = tmp_path / "config"
    sectioned.write_text("[run]\nvos_dir = /arc/home/demo\n")
    assert not is_workload_file(sectioned)  # a config.ini by another name
    assert opened_file("'my job.yaml' tmp=/arc/home/me/tmp") == (Path("my job.yaml"), {"tmp": "/arc/home/me/tmp"})
    assert opened_file("job.yaml --mount a=/arc/a --mount b=/arc/b")[1] == {"a": "/arc/a", "b": "/arc/b"}  # as core's advice says
    try:
        opened_file("job.yaml /arc/home/me/tmp")
    except UsageError as exc:
        assert str(exc) == "/arc/home/me/tmp: expected a volume mount NAME=/arc/PATH after the file"
    else:
        raise AssertionError("a mount without a name was accepted")
