"""20 concurrent requests through the Gradio API (gradio_client on 127.0.0.1) all succeed."""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT
from ui.assets import SEED_EXAMPLES

pytestmark = pytest.mark.slow

REQUESTS = 20


def test_twenty_concurrent_api_requests_succeed(ui_url):
    from gradio_client import Client

    client = Client(ui_url, verbose=False)
    questions = [SEED_EXAMPLES[i % len(SEED_EXAMPLES)][0] for i in range(REQUESTS)]

    def one(question: str) -> tuple[float, dict]:
        started = time.perf_counter()
        result = client.predict(question, 0, api_name="/ask")
        return time.perf_counter() - started, result

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        results = list(pool.map(one, questions, timeout=120))
    wall = time.perf_counter() - started

    for question, (_, result) in zip(questions, results):
        assert result["question"] == question
        assert not result["abstained"] and result["citations"], question
    assert "Hà Tĩnh" in results[0][1]["answer"]

    latencies = sorted(t for t, _ in results)
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
    report = {"requests": REQUESTS, "wall_s": round(wall, 3), "p50_s": round(p50, 3), "p95_s": round(p95, 3),
              "max_s": round(latencies[-1], 3)}
    (ROOT / "out").mkdir(exist_ok=True)
    (ROOT / "out" / "ui_concurrency.json").write_text(json.dumps(report, indent=1))
    print(f"\n{REQUESTS} concurrent /ask requests: {report}")
    assert latencies[-1] < 60
