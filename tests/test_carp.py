"""The CARP solver on published instances: feasible (checked independently) and near the optimum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.carp_bench import DATA, best_known
from geo_service.errors import InvalidInput
from geo_service.snow.carp import route_cost, solve_carp
from geo_service.snow.instances import read_instance


def check(inst, sol):
    """Every required edge served exactly once, capacity per route, cost recomputed from scratch."""
    served = sorted(a // 2 for r in sol.routes for a in r)
    assert served == list(range(inst.n_tasks))
    for r in sol.routes:
        assert sum(inst.demand[a // 2] for a in r) <= inst.capacity
    total = 0.0
    for r in sol.routes:
        pos = inst.depot
        for a in r:
            u, v = (
                (inst.task_u[a // 2], inst.task_v[a // 2])
                if a % 2 == 0
                else (inst.task_v[a // 2], inst.task_u[a // 2])
            )
            total += inst.dist[pos, u] + inst.serve[a // 2]
            pos = v
        total += inst.dist[pos, inst.depot]
    assert total == pytest.approx(sol.cost)
    assert sum(route_cost(inst, r) for r in sol.routes) == pytest.approx(sol.cost)


def test_best_known_table_is_read():
    known = best_known()
    assert known["gdb1"] == 316
    assert known["val10D"] == 525
    assert len(known) == 57


@pytest.mark.parametrize(("name", "tolerance"), [("gdb1", 0.0), ("gdb5", 0.03), ("val1A", 0.02)])
def test_solves_near_best_known(name, tolerance):
    inst = read_instance(DATA / f"{name}.dat")
    sol = solve_carp(inst, seed=1, iterations=150)
    check(inst, sol)
    assert sol.cost <= best_known()[name] * (1 + tolerance)


def test_deterministic_for_a_seed_and_budget():
    inst = read_instance(DATA / "gdb3.dat")
    a = solve_carp(inst, seed=3, iterations=40)
    b = solve_carp(inst, seed=3, iterations=40)
    assert a.routes == b.routes


def test_brute_force_on_a_tiny_instance(tmp_path: Path):
    text = """ NOMBRE : tiny
 VERTICES : 4
 ARISTAS_REQ : 4
 ARISTAS_NOREQ : 0
 VEHICULOS : 2
 CAPACIDAD : 2
 LISTA_ARISTAS_REQ :
 ( 1, 2)  coste 3 demanda 1
 ( 2, 3)  coste 4 demanda 1
 ( 3, 4)  coste 5 demanda 1
 ( 4, 1)  coste 6 demanda 1
 DEPOSITO : 1
"""
    path = tmp_path / "tiny.dat"
    path.write_text(text)
    inst = read_instance(path)
    sol = solve_carp(inst, seed=0, iterations=50)
    check(inst, sol)
    import itertools

    best = np.inf
    for perm in itertools.permutations(range(4)):
        for dirs in itertools.product((0, 1), repeat=4):
            tour = [2 * t + d for t, d in zip(perm, dirs, strict=True)]
            best = min(best, route_cost(inst, tour[:2]) + route_cost(inst, tour[2:]))
    assert sol.cost == pytest.approx(best)


def test_bad_input(tmp_path):
    inst = read_instance(DATA / "gdb1.dat")
    with pytest.raises(InvalidInput):
        solve_carp(inst, iterations=0)


def test_reader_names_what_is_missing(tmp_path: Path):
    path = tmp_path / "broken.dat"
    path.write_text(" NOMBRE : broken\n VERTICES : 3\n CAPACIDAD : 5\n")
    with pytest.raises(InvalidInput, match="ARISTAS_REQ"):
        read_instance(path)


def test_every_instance_file_reads_with_its_task_count():
    for name in best_known():
        inst = read_instance(DATA / f"{name}.dat")
        head = (DATA / f"{name}.dat").read_text(encoding="latin-1")
        assert f"ARISTAS_REQ : {inst.n_tasks}" in " ".join(head.split())
        assert np.isfinite(inst.dist[inst.depot, inst.task_u]).all()


def test_tail_exchange_between_routes_improves_and_keeps_capacity():
    from geo_service.snow.carp import _cross

    inst = read_instance(DATA / "gdb8.dat")
    rng = np.random.default_rng(5)
    tasks = rng.permutation(inst.n_tasks)
    routes, load, cur = [], 0.0, []
    for t in tasks:  # a poor but feasible start: random order, cut when full
        if load + inst.demand[t] > inst.capacity:
            routes.append(cur)
            cur, load = [], 0.0
        cur.append(int(2 * t))
        load += inst.demand[t]
    routes.append(cur)
    before = sum(route_cost(inst, r) for r in routes)
    assert _cross(inst, routes)
    after = sum(route_cost(inst, r) for r in routes if r)
    assert after < before
    assert sorted(a // 2 for r in routes for a in r) == list(range(inst.n_tasks))
    assert all(sum(inst.demand[a // 2] for a in r) <= inst.capacity for r in routes)


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("GEO_BENCH_CARP_S", "0", "GEO_BENCH_CARP_S='0': seconds per instance, a number above 0"),
        ("GEO_BENCH_CARP_S", "abc", "GEO_BENCH_CARP_S='abc': seconds per instance, a number above 0"),
        ("GEO_BENCH_CARP_S", "nan", "a number above 0"),
        (
            "GEO_BENCH_CARP_ONLY",
            "xyz",
            "GEO_BENCH_CARP_ONLY='xyz': a group (gdb, val) or one instance (gdb1,",
        ),
    ],
)
def test_the_carp_benchmark_refuses_settings_it_cannot_take(monkeypatch, capsys, variable, value, said):
    """User-tester: GEO_BENCH_CARP_S=0 or abc gave a traceback and GEO_BENCH_CARP_ONLY=xyz ran nothing
    without a word. Each is refused before anything runs, naming the variable and what it takes."""
    from benchmarks import carp_bench

    monkeypatch.setenv(variable, value)
    monkeypatch.setattr(carp_bench, "solve_carp", lambda *a, **k: pytest.fail("it ran"))
    with pytest.raises(SystemExit) as stopped:
        carp_bench.run()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert said in err
    assert err.count("\n") == 1


def test_the_carp_benchmark_runs_one_instance_by_name(monkeypatch, capsys):
    from benchmarks import carp_bench

    monkeypatch.setenv("GEO_BENCH_CARP_S", "0.2")
    monkeypatch.setenv("GEO_BENCH_CARP_ONLY", "gdb1")
    carp_bench.run()
    out = capsys.readouterr().out
    assert "gdb1 " in out
    assert "gdb10" not in out
    assert "gdb: mean gap" in out
    assert "over 1 instances" in out
