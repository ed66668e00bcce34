"""The client against a local server that answers 503s and drops connections after acting."""

import asyncio
from collections import Counter

from srcnet_tui.core.skaha import LaunchSpec, SkahaClient

IMAGE = "images.canfar.net/skaha/terminal:1.1.2"


async def test_100_creates_under_faults_make_exactly_100_sessions(local_server_factory):
    server = local_server_factory(fault_503_rate=0.2, fault_drop_rate=0.05)
    async with SkahaClient(server.url, token=server.token) as client:
        specs = [LaunchSpec(f"burst-{i}", IMAGE, cmd="true", cores=1, ram=1) for i in range(100)]
        results = await asyncio.gather(*(client.create(spec) for spec in specs))
        ids = [session_id for result in results for session_id in result]
        sessions = await client.list_sessions()
    assert len(ids) == 100 and len(set(ids)) == 100
    names = Counter(s.name for s in sessions)
    assert names == Counter(f"burst-{i}" for i in range(100))  # none missing, none twice
    assert {s.id for s in sessions} == set(ids)


async def test_replicas_under_faults_and_every_read_endpoint(local_server_factory):
    server = local_server_factory(fault_503_rate=0.2, fault_drop_rate=0.05)
    async with SkahaClient(server.url, token=server.token) as client:
        ids = await client.create(LaunchSpec("rep", IMAGE, cmd="true", cores=1, ram=1, replicas=30))
        sessions = await client.list_sessions(type="headless")
        assert sorted(s.name for s in sessions) == sorted(f"rep-{i}" for i in range(1, 31))
        assert len(set(ids)) == 30
        one = await client.get(ids[0])
        assert one.id == ids[0] and one.image == IMAGE
        await client.logs(ids[0])
        assert isinstance(await client.stats(), dict)
        assert any(image["id"] == IMAGE for image in await client.images())
        assert "cores" in await client.context()
        assert await client.repository()
        assert await client.delete_all(ids) == {}
        assert await client.list_sessions() == []
