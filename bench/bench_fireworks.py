"""Fireworks mock throughput: non-streaming chat completions on loopback, one worker.

Baseline (the ceiling): a minimal server of the same stack (uvicorn + httptools + uvloop, a
plain ASGI app) returning a fixed body of the same size, measured in the same run. The load
generator is a separate process, bounded in connections and time, loopback only: wrk (Debian
package `wrk`) when installed, else a small asyncio HTTP/1.1 keep-alive client in a subprocess.
With two or more CPUs the server is pinned to one CPU and the load generator to another.

Targets: at saturation >= 0.4x the ceiling's throughput and >= 1,500 requests/s; at 1,500
requests/s offered, p99 < 10 ms. The mock remembers recently seen request bodies (validation and
generated choices are pure functions of the bytes), which the fixed request of the main rows hits;
the "every body different" row sends a new body each time, so it measures the uncached path.
The machine's load average is printed before and after: the machine may be shared.

    python bench/bench_fireworks.py [--seconds 5] [--rounds 3] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
REQUEST = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "You identify machines from descriptions."},
        {"role": "user", "content": "A blue pump with a 3-phase motor and a brass impeller."},
    ],
    "max_tokens": 64,
    "temperature": 0.2,
}
TARGET_RPS = 1500
TARGET_P99_MS = 10.0
TARGET_RATIO = 0.4  # of the ceiling's saturation throughput


# --- the ceiling server -------------------------------------------------------------------------


def serve_ceiling(port: int, body_size: int) -> None:
    import uvicorn

    body = json.dumps({"pad": "x" * max(0, body_size - 11)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
    )


# --- the fallback load generator ----------------------------------------------------------------


async def _load(
    host: str, port: int, path: str, conns: int, seconds: float, rate: float
) -> dict[str, Any]:
    """Closed loop (rate 0: each connection sends as soon as it has its answer), or open loop at
    ``rate`` requests/s: request i is due at t0 + i/rate and its latency counts from then, so a
    server that falls behind is charged for the queue (no coordinated omission)."""
    payload = json.dumps(REQUEST).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer bench\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    latencies: list[float] = []
    errors = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    total = int(rate * seconds) if rate else 0
    next_index = 0

    async def worker() -> None:
        nonlocal errors, next_index
        reader, writer = await asyncio.open_connection(host, port)
        while True:
            if rate:
                if next_index >= total:
                    break
                due = t0 + next_index / rate
                next_index += 1
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                due = time.perf_counter()
                if due >= deadline:
                    break
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - due)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
        writer.close()

    await asyncio.gather(*(worker() for _ in range(conns)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
    }


def _py_load(port: int, path: str, conns: int, seconds: float, rate: float) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_load("127.0.0.1", port, path, conns, seconds, rate))))


# --- driver -------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m.group(1)) * _UNITS[m.group(2)]


def _wrk(
    port: int, path: str, conns: int, seconds: float, cpu: int | None, vary: bool = False
) -> dict[str, Any]:
    lua = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(REQUEST))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Authorization"] = "Bearer bench"\n'
    )
    if vary:
        # Every request a different body (a counter in the user message), so nothing the mock
        # remembers of earlier bodies helps: validation and generation run every time.
        before, after = json.dumps(REQUEST).split("brass impeller.")
        lua += (
            "local n = 0\n"
            "request = function()\n"
            "  n = n + 1\n"
            f"  return wrk.format(nil, nil, nil, {json.dumps(before + 'brass impeller ')}"
            f" .. n .. {json.dumps('.' + after)})\n"
            "end\n"
        )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{int(seconds)}s", "--latency", "-s", f.name]
    argv.append(f"http://127.0.0.1:{port}{path}")
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True)
    os.unlink(f.name)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    # Anchored to the latency distribution's lines: a "+/- Stdev" column such as "71.50%" also
    # contains "50%".
    p50 = _ms(re.search(r"(?m)^\s+50%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"(?m)^\s+99%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = int(non2xx.group(1)) if non2xx else 0
    sock_err = re.search(r"Socket errors: (.*)", text)
    if sock_err:
        errors += sum(int(n) for n in re.findall(r"\d+", sock_err.group(1)))
    return {"requests": requests, "rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors}


def _load_run(
    port: int,
    path: str,
    conns: int,
    seconds: float,
    cpu: int | None,
    rate: float = 0.0,
    vary: bool = False,
) -> dict[str, Any]:
    if not rate and shutil.which("wrk"):
        return _wrk(port, path, conns, seconds, cpu, vary) | {"tool": "wrk"}
    if vary:
        raise SystemExit("the varied-body row needs wrk (Debian package `wrk`)")
    argv = [sys.executable, __file__, "--load", str(port), path, str(conns), str(seconds)]
    argv.append(str(rate))
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True)
    measured: dict[str, Any] = json.loads(out.stdout)
    return measured | {"tool": "python asyncio client"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, path: str, timeout: float = 15.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not come up")


def _start(argv: list[str], cpu: int | None) -> subprocess.Popen[bytes]:
    if cpu is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", str(cpu), *argv]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="length of one measured run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs per server")
    ap.add_argument("--connections", type=int, default=8)
    args = ap.parse_args()
    seconds = min(max(args.seconds, 2.0), 60.0)
    rounds = min(max(args.rounds, 1), 9)
    conns = min(max(args.connections, 1), 64)

    import statistics

    import httpx

    load_before = os.getloadavg()
    cpus = os.cpu_count() or 1
    server_cpu, load_cpu = (0, 1) if cpus >= 2 and shutil.which("taskset") else (None, None)
    path = "/inference/v1/chat/completions"
    stubs = REPO / "fixtures" / "fireworks"
    mock_name, ceiling_name = "fireworks mock", "ceiling: fixed body, same stack"
    varied_name = "fireworks mock, every body different"
    rate_suffix = f" @ {TARGET_RPS} req/s offered"
    runs: dict[str, list[dict[str, Any]]] = {
        mock_name: [],
        ceiling_name: [],
        mock_name + rate_suffix: [],
        ceiling_name + rate_suffix: [],
    }

    mock_port, ceiling_port = _free_port(), _free_port()
    mock_argv = [sys.executable, "-m", "devenv", "mock", "fireworks", "--port", str(mock_port)]
    mock_argv += ["--stubs", str(stubs)] if stubs.is_dir() else []
    procs = [_start(mock_argv, server_cpu)]
    try:
        _wait(mock_port, "/__devenv/health")
        first = httpx.post(
            f"http://127.0.0.1:{mock_port}{path}",
            json=REQUEST,
            headers={"Authorization": "Bearer bench"},
        )
        assert first.status_code == 200 and first.json()["object"] == "chat.completion", first.text
        body_size = len(first.content)
        procs.append(
            _start(
                [sys.executable, __file__, "--serve-ceiling", str(ceiling_port), str(body_size)],
                server_cpu,
            )
        )
        _wait(ceiling_port, "/")
        ports = {mock_name: mock_port, ceiling_name: ceiling_port}
        for port in ports.values():
            _load_run(port, path, conns, 2, load_cpu)  # warm-up
        # Alternate the two servers so background load on the machine hits both alike.
        vary = shutil.which("wrk") is not None
        if vary:
            runs[varied_name] = []
        for _ in range(rounds):
            for name, port in ports.items():
                runs[name].append(_load_run(port, path, conns, seconds, load_cpu))
                if vary and name == mock_name:
                    runs[varied_name].append(
                        _load_run(port, path, conns, seconds, load_cpu, vary=True)
                    )
                runs[name + rate_suffix].append(
                    _load_run(port, path, 16, seconds, load_cpu, rate=TARGET_RPS)
                )
        health = httpx.get(f"http://127.0.0.1:{mock_port}/__devenv/health").json()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)

    def median(name: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[name]))

    tool = runs[ceiling_name][0]["tool"]
    print(
        f"\nNon-streaming chat completions on loopback, {rounds} alternating runs of {seconds:g} s "
        f"per row, medians; server on CPU {server_cpu}, load on CPU {load_cpu}; response body "
        f"{body_size} bytes; load average before {load_before[0]:.2f}, after "
        f"{os.getloadavg()[0]:.2f} ({cpus} CPUs).\n"
        f"Saturation rows: {conns} keep-alive connections, load by {tool}. "
        f"'@ {TARGET_RPS} req/s' rows: open loop at the target rate, 16 connections, python "
        "asyncio client, latency counted from each request's due time."
    )
    print(
        f"{'server':56} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'vs ceiling':>10}"
    )
    for name in runs:
        base = ceiling_name + (rate_suffix if name.endswith(rate_suffix) else "")
        errors = sum(r["errors"] for r in runs[name])
        print(
            f"{name:56} {median(name, 'rps'):7.0f} {median(name, 'p50_ms'):7.2f} "
            f"{median(name, 'p99_ms'):7.2f} {errors:6d} "
            f"{median(name, 'rps') / median(base, 'rps'):10.2f}"
        )
    at_rate = mock_name + rate_suffix
    ratio = median(mock_name, "rps") / median(ceiling_name, "rps")
    ok = (
        ratio >= TARGET_RATIO
        and median(mock_name, "rps") >= TARGET_RPS
        and median(at_rate, "rps") >= TARGET_RPS * 0.98
        and median(at_rate, "p99_ms") < TARGET_P99_MS
        and sum(r["errors"] for name in (mock_name, at_rate) for r in runs[name]) == 0
    )
    print(
        f"target (saturation >= {TARGET_RATIO:g}x the ceiling and >= {TARGET_RPS} req/s; at "
        f"{TARGET_RPS} req/s p99 < {TARGET_P99_MS:g} ms): "
        f"{'met' if ok else 'NOT met'}; "
        f"journal after the run: {health['journal']['entries']} entries kept of "
        f"{health['journal']['total']} requests (ring of {health['journal']['size']})"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-ceiling":
        serve_ceiling(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--load":
        _py_load(
            int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
        )
    else:
        main()
