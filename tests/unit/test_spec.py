"""The typed run records survive the ledger's JSON unchanged, whatever they hold."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from srcnet_tui.core.runs.fits import CubeShape
from srcnet_tui.core.runs.spec import RunPlan, TaskOutputs, TaskSpec, Upload
from srcnet_tui.core.runs.split import Region

texts = st.text(min_size=1, max_size=12)
counts = st.integers(min_value=1, max_value=512)


@st.composite
def regions(draw) -> Region:
    lows = [draw(st.integers(0, 100)) for _ in range(3)]
    highs = [low + draw(st.integers(0, 100)) for low in lows]
    return Region(lows[0], highs[0], lows[1], highs[1], lows[2], highs[2])


outputs = st.builds(TaskOutputs, texts, texts, texts, texts, st.tuples(texts, texts))
specs = st.builds(
    TaskSpec,
    index=counts,
    name=texts,
    region=st.none() | regions(),
    par_file=texts,
    cores=counts,
    ram_gb=counts,
    args=st.lists(texts, max_size=6),
    outputs=outputs,
    image=texts,
    env=st.dictionaries(texts, texts, max_size=3),
    gpus=st.integers(0, 4),
    cmd=texts,
)
plans = st.builds(
    RunPlan,
    run_id=texts,
    kind=st.sampled_from(["task", "parallel", "split"]),
    config=st.fixed_dictionaries({"file": texts, "settings": st.dictionaries(texts, st.integers())}),
    image=texts,
    gpus=st.integers(0, 4),
    env=st.dictionaries(texts, texts, max_size=3),
    output_dir=texts,
    input_data=texts,
    uploads=st.lists(st.builds(Upload, st.builds(Path, texts), texts), max_size=3).map(tuple),
    cube=st.none() | st.builds(CubeShape, counts, counts, counts, st.sampled_from([8, 16, -32, -64])),
    grid=st.none() | st.tuples(counts, counts, counts),
    overlap=st.none() | st.tuples(counts, counts),
    max_parallel=st.none() | counts,
)


@given(specs)
def test_a_task_spec_comes_back_from_json_as_it_went_in(spec: TaskSpec) -> None:
    assert TaskSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@given(plans)
def test_a_run_plan_comes_back_from_json_as_it_went_in(plan: RunPlan) -> None:
    assert RunPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


@given(specs, texts)
def test_the_launch_request_is_the_spec_under_the_attempt_name(spec: TaskSpec, name: str) -> None:
    request = spec.launch_spec(name)
    assert (request.name, request.image, request.args, request.env) == (name, spec.image, spec.args, spec.env)
    assert (request.cores, request.ram, request.gpus) == (spec.cores, spec.ram_gb, spec.gpus or None)
