"""What the client lets through, Skaha's own splitting delivers unchanged (the rules and Skaha's behaviour agree)."""

from hypothesis import given
from hypothesis import strategies as st

from srcnet_tui.core.skaha_rules import (
    NAME_PATTERN,
    arg_problem,
    env_problem,
    from_registry,
    split_args,
    split_env,
    stored_name,
)

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@given(st.lists(text, max_size=6))
def test_args_the_client_accepts_arrive_as_sent(args):
    if all(arg_problem(arg) is None for arg in args):
        assert split_args(" ".join(args)) == args


@given(text, text)
def test_env_entries_the_client_accepts_arrive_as_sent(key, value):
    if env_problem(key, value) is None:
        assert split_env(f"{key}={value}") == (key, value)


def test_what_skaha_would_mangle_is_named():
    assert "whitespace" in arg_problem("a b")
    assert "lost" in arg_problem("")
    assert "dropped" in env_problem("A", "x=y")
    assert split_env("A=x=y") is None  # what Skaha does with it: silently dropped
    assert split_args("a  b") == ["a", "", "b"]  # a double space makes an empty argument


def test_images_pass_only_from_a_registry_host_and_names_are_stored_as_labels():
    assert from_registry("images.canfar.net/skaha/terminal:1.1.2")
    assert not from_registry("images.canfar.net.example.org/x:1")
    assert not from_registry("docker.io/library/python:3")
    assert NAME_PATTERN.fullmatch("Sweep-3") and not NAME_PATTERN.fullmatch("sweep_3")
    assert stored_name("A" * 70) == "a" * 63
