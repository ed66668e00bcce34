"""The async client against a real serve-local: filters, errors with the server's words, VOSI documents."""

import pytest

from srcnet_tui.core.errors import AuthError, NotFound, Rejected
from srcnet_tui.core.skaha import LaunchSpec, SkahaClient
from srcnet_tui.core.skaha_rules import COMPLETED, FAILED

IMAGE = "images.canfar.net/skaha/terminal:1.1.2"


async def _until(condition, client, timeout_s=20.0):
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sessions = await client.list_sessions()
        if condition(sessions):
            return sessions
        await asyncio.sleep(0.1)
    raise AssertionError("sessions never reached the expected state")


async def test_filters_logs_and_statuses(local_server):
    async with SkahaClient(local_server.url, token=local_server.token) as client:
        (good,) = await client.create(LaunchSpec("good", IMAGE, cmd="echo", args=["hello"], cores=1, ram=1))
        (bad,) = await client.create(LaunchSpec("bad", IMAGE, cmd="false", cores=1, ram=1))
        await _until(lambda ss: {s.id: s.status for s in ss} == {good: COMPLETED, bad: FAILED}, client)
        assert [s.id for s in await client.list_sessions(status="Completed")] == [good]
        assert [s.id for s in await client.list_sessions(type="headless", status="failed")] == [bad]
        assert (await client.logs(good)).strip() == "hello"
        assert isinstance(await client.events(good), str)
        assert "available" in (await client.availability()).lower()
        assert "capabilit" in (await client.capabilities()).lower()


async def test_server_refusals_reach_the_caller_verbatim(local_server):
    async with SkahaClient(local_server.url, token=local_server.token) as client:
        with pytest.raises(NotFound, match="nosuch01"):
            await client.get("nosuch01")
        with pytest.raises(Rejected) as refused:
            await client._request("POST", "session", [("name", "x y"), ("image", IMAGE)])
        assert "name" in str(refused.value)
    async with SkahaClient(local_server.url, token="wrong") as stranger:
        with pytest.raises(AuthError):
            await stranger.list_sessions()
