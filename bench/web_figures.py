"""/ready's latency, and what its head check costs per request (issue 15).

    /tmp/benchvenv/bin/python bench/web_figures.py     # the venv docs/benchmarks.md sets up

Bakes a web=fastapi project, grows it to 100 revisions (bench/generate.py), brings its database
to head, and measures on SQLite and PostgreSQL (BENCH_DATABASE_URL, else the embedded
PostgreSQL 18 bench/run.py uses):

- the readiness check in-process: a fresh answer (one query of the version table on a pooled
  connection, the revision heads read once) and a kept one (within ``max_age``), against what
  a naive probe would do: db.status's ``migrations.status`` per request (the revision files
  read, an engine made, a connection opened);
- over HTTP, the app served by the Dockerfile's command (uvicorn) on 127.0.0.1: /ready against
  /health, which touches no database, on one kept-alive connection, interleaved.
"""

from __future__ import annotations

import http.client
import importlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate
from run import (
    PY,
    WORK,
    Databases,
    bake_cmd,
    base_env,
    package_of,
    pg_admin_url,
    run,
    stop_embedded,
)

REVISIONS = 100


def per_call(fn: Callable[[], object], calls: int) -> float:
    """Median seconds of one call of ``fn`` over ``calls`` calls."""
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def web_project(backend: str) -> Path:
    out = WORK / "web" / backend
    run(["rm", "-rf", str(out)], WORK, base_env(), timed=False)
    out.mkdir(parents=True)
    run([*bake_cmd(out, backend), "web=fastapi"], WORK, base_env())
    project = next(out.iterdir())
    generate(project, package_of(project), REVISIONS)
    return project


def in_process(project: Path, url: str) -> dict[str, float]:
    sys.path.insert(0, str(project / "src"))
    package = package_of(project)
    settings_module = importlib.import_module(f"{package}.settings")
    from groundwork import migrations
    from groundwork.readiness import ReadinessCheck

    settings = settings_module.load_settings(project, {"DATABASE_URL": url})
    fresh, kept = ReadinessCheck(settings, max_age=0), ReadinessCheck(settings, max_age=60)
    try:
        assert fresh().ready, fresh().reason
        assert kept().ready
        return {
            "naive": per_call(lambda: migrations.status(settings), 20),
            "fresh": per_call(fresh, 300),
            "kept": per_call(kept, 3000),
        }
    finally:
        fresh.close()
        kept.close()
        sys.path.remove(str(project / "src"))


def over_http(project: Path, url: str) -> dict[str, tuple[float, float]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [PY, "-m", "uvicorn", "--factory", f"{package_of(project)}.web:create_app"]
    server = subprocess.Popen(  # the Dockerfile's command (tests/test_web_option.py checks it)
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=project,
        env=base_env(DATABASE_URL=url),
    )
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        deadline = time.monotonic() + 30
        while True:
            try:
                connection.request("GET", "/health")
                connection.getresponse().read()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        times: dict[str, list[float]] = {"/health": [], "/ready": []}
        for _ in range(1000):
            for path, spent in times.items():
                started = time.perf_counter()
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                spent.append(time.perf_counter() - started)
                assert response.status == 200, (path, response.status)
        return {
            path: (statistics.median(spent), statistics.quantiles(spent, n=100)[98])
            for path, spent in times.items()
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    admin = pg_admin_url()
    rows = []
    try:
        for backend in ("sqlite", "postgresql"):
            databases = Databases(backend, admin if backend == "postgresql" else None)
            try:
                project = web_project(backend)
                url = databases.fresh("bench_web")
                run([PY, "-m", "invoke", "db.init"], project, base_env(DATABASE_URL=url))
                inside = in_process(project, url)
                http_figures = over_http(project, url)
            finally:
                databases.drop_all()
            label = f"[{backend}, {REVISIONS} revisions]"
            ms = 1000
            rows += [
                f"readiness, fresh answer {label:<28} {inside['fresh'] * ms:8.3f} ms"
                f"  vs migrations.status per request {inside['naive'] * ms:8.3f} ms"
                f"  x{inside['fresh'] / inside['naive']:.3f}",
                f"readiness, kept answer  {label:<28} {inside['kept'] * ms:8.4f} ms"
                f"  vs fresh answer {inside['fresh'] * ms:8.3f} ms"
                f"  x{inside['kept'] / inside['fresh']:.4f}",
                f"GET /ready p50/p99      {label:<28} {http_figures['/ready'][0] * ms:6.2f}/"
                f"{http_figures['/ready'][1] * ms:.2f} ms"
                f"  vs GET /health {http_figures['/health'][0] * ms:6.2f}/"
                f"{http_figures['/health'][1] * ms:.2f} ms"
                f"  x{http_figures['/ready'][0] / http_figures['/health'][0]:.2f} (p50)",
            ]
    finally:
        stop_embedded()
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
