"""run.json is copied to shared project storage: the credentials given on the command line must not be."""

from srcnet_tui.core.runs.manifest import redacted_command


def test_token_and_certificate_values_are_redacted_in_both_spellings():
    argv = ["/x/bin/srcnet-tui", "--token", "SECRET1", "--cert=/home/a/.ssl/p.pem", "parallel", "c.ini"]
    out = redacted_command(argv)
    assert out == ["srcnet-tui", "--token", "<redacted>", "--cert=<redacted>", "parallel", "c.ini"]
    assert not any("SECRET1" in a for a in out)


def test_an_ordinary_command_line_is_kept_as_run():
    assert redacted_command(["srcnet-tui", "run", "config.ini", "--section", "sofia-task"]) == [
        "srcnet-tui",
        "run",
        "config.ini",
        "--section",
        "sofia-task",
    ]
