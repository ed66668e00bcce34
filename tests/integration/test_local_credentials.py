"""A credential in the shell of the client that started the local daemon must not reach sessions."""

from conftest import wait_for

IMAGE = "images.canfar.net/skaha/terminal:1.1.2"


def test_a_canfar_token_in_the_starting_shell_is_not_in_a_session_environment(cli):
    secrets = {"CANFAR_TOKEN": "SECRET-CANFAR", "SRCNET_TOKEN": "SECRET-SRCNET", "MY_API_PASSWORD": "SECRET-PW"}
    launched = cli("--backend", "local", "launch", "--name", "envdump", "--image", IMAGE, "--", "env", env=secrets)
    assert launched.returncode == 0, launched.stderr
    session_id = launched.stdout.strip()
    wait_for(lambda: cli("wait", session_id, "--timeout", "30").returncode == 0, 60, "the session to complete")
    log = cli("logs", session_id)
    assert log.returncode == 0 and "PATH=" in log.stdout
    assert "SECRET" not in log.stdout
    assert f"skaha_sessionid={session_id}" in log.stdout
