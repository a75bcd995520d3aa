"""Separate OS processes completing parallel tasks of one instance at the same moment."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from engine.db import Database
from tests import bpmn_builder as B

N_BRANCHES = 4
OFFICES = ["ABH", "JC", "WOHN", "JA"]


def _fanout_process() -> str:
    branches = "".join(B.user_task(f"Task_{o}", f"Prüfen {o}") for o in OFFICES)
    flows = "".join(
        B.flow(f"Fa_{o}", "Gw_Split", f"Task_{o}") + B.flow(f"Fb_{o}", f"Task_{o}", "Gw_Join")
        for o in OFFICES
    )
    body = (
        '<bpmn:startEvent id="Ev_Start"/><bpmn:parallelGateway id="Gw_Split"/>'
        + branches
        + '<bpmn:parallelGateway id="Gw_Join"/>'
        + B.user_task("Task_After", "Ergebnis zusammenführen")
        + '<bpmn:endEvent id="Ev_End"/>'
        + B.flow("F1", "Ev_Start", "Gw_Split") + flows
        + B.flow("F2", "Gw_Join", "Task_After") + B.flow("F3", "Task_After", "Ev_End")
    )
    lanes = {o: [f"Task_{o}"] for o in OFFICES}
    lanes["KIM_CM"] = ["Ev_Start", "Gw_Split", "Gw_Join", "Task_After", "Ev_End"]
    return B.process("fanout", lanes, body)


def _worker(url: str, task_id: str, office: str, barrier, results) -> None:
    from processes.wiring import build_engine

    eng, _ = build_engine(Database(url))
    barrier.wait()
    try:
        eng.complete(task_id, {f"{office.lower()}_result": "ok"})
        results.put(("ok", office))
    except Exception as exc:  # reported to the parent, which fails the test
        results.put(("error", f"{office}: {exc!r}"))


@pytest.mark.parametrize("rounds", [3])
def test_parallel_completions_all_land_and_join_fires_once(engine, db, rounds):
    engine.deploy_files(B.files(fanout__bpmn=_fanout_process()))
    ctx = mp.get_context("spawn")
    url = db.url.render_as_string(hide_password=False)
    for _ in range(rounds):
        iid = engine.start("fanout", {})["instance_id"]
        tasks = {t["office"]: t["task_id"] for t in engine.tasks(instance_id=iid)}
        assert set(tasks) == set(OFFICES)
        barrier, results = ctx.Barrier(N_BRANCHES), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(url, tasks[o], o, barrier, results))
                 for o in OFFICES]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        outcomes = [results.get(timeout=5) for _ in procs]
        assert all(kind == "ok" for kind, _ in outcomes), outcomes
        after = engine.tasks(instance_id=iid)
        assert [t["element_id"] for t in after] == ["Task_After"]  # the join fired exactly once
        data = engine.show(iid)["data"]
        assert {f"{o.lower()}_result" for o in OFFICES} <= set(data)  # no update lost
