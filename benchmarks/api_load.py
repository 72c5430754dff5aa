"""Load on the HTTP API: N concurrent clients asking for T seconds over loopback (not a test).

    python -m benchmarks.api_load [-c seeds] [--clients 50] [--seconds 60] [--model virag-seeds]

Starts ``virag serve`` as a child process on a free port, waits for ``/healthz``, then each client
posts the seed dev questions in turn to ``/v1/chat/completions`` (not streamed) until the time is
up. Prints and writes (``bench_out/api_load.json``) requests/s, latency percentiles and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"virag serve exited with {proc.returncode}"
            raise RuntimeError(msg)
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    msg = f"virag serve was not ready after {timeout:.0f} s"
    raise RuntimeError(msg)


async def _load(url: str, model: str, questions: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    stop_at = time.monotonic() + seconds

    async def client(i: int, http: httpx.AsyncClient) -> None:
        n = i
        while time.monotonic() < stop_at:
            body = {"model": model, "messages": [{"role": "user", "content": questions[n % len(questions)]}]}
            n += clients
            started = time.perf_counter()
            try:
                reply = await http.post(f"{url}/v1/chat/completions", json=body)
                statuses[str(reply.status_code)] += 1
                if reply.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1

    began = time.monotonic()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=600, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    elapsed = time.monotonic() - began
    ms = np.asarray(latencies or [float("nan")])
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": sum(statuses.values()),
            "ok": statuses.get("200", 0), "errors": sum(v for k, v in statuses.items() if k != "200"),
            "statuses": dict(statuses), "requests_per_s": round(statuses.get("200", 0) / elapsed, 2),
            "latency_ms": {"p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1),
                           "max": round(float(ms.max()), 1)}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--corpus", default="seeds")
    p.add_argument("--questions", default="evals/seed_dev.jsonl")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--model", help="model name (default: virag-<corpus>, the configured answerer)")
    p.add_argument("--set", action="append", default=[], help="a setting for the server, KEY=VALUE")
    p.add_argument("-o", "--out", default="bench_out/api_load.json")
    args = p.parse_args(argv)

    questions = [json.loads(line)["question"] for line in open(args.questions, encoding="utf-8") if line.strip()]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "ui.cli", "serve", "-c", args.corpus, "--port", str(port)]
    cmd += [arg for kv in args.set for arg in ("--set", kv)]
    env = {**os.environ, "VIRAG_API_KEY": ""}
    with subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        try:
            _wait_ready(url, proc)
            model = args.model or httpx.get(f"{url}/v1/models").json()["data"][0]["id"]
            result = asyncio.run(_load(url, model, questions, args.clients, min(5.0, args.seconds)))  # warm up
            result = asyncio.run(_load(url, model, questions, args.clients, args.seconds))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result.update(model=model, corpus=args.corpus, settings=args.set, cpus=os.cpu_count())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    lat = result["latency_ms"]
    print(f"{result['clients']} clients, {result['seconds']} s, {model}: {result['ok']} answers "
          f"({result['requests_per_s']}/s), latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, max {lat['max']} ms; "
          f"errors {result['errors']} {result['statuses']}")
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
