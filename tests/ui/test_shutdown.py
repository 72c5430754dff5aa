"""`virag serve` stopped with SIGTERM, as systemd and docker stop it: the answer in flight finishes,
new connections are refused at once, the process exits 0, and the index is left unlocked."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from rag.index.folder import index_lock

pytestmark = pytest.mark.slow
KEY = "deploy-test-key"
REPLY = "Hội nghị do Phó Thủ tướng chủ trì, theo tài liệu [1]. " * 3


class SlowLLM:
    """An OpenAI-protocol server that streams its reply slowly: an answer that is still running."""

    def __init__(self, pause: float = 0.25) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i in range(0, len(REPLY), 12):
                    chunk = {"id": "x", "created": 0, "model": body["model"], "object": "chat.completion.chunk",
                             "choices": [{"index": 0, "delta": {"content": REPLY[i:i + 12]}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(pause)
                self.wfile.write(b"data: [DONE]\n\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(seed_assistant, seed_index_dir):
    llm = SlowLLM()
    port = free_port()
    env = {**os.environ, "VIRAG_API_KEY": KEY, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--index", str(seed_index_dir), "--port", str(port),
         "--set", "answerer=openai", "--set", f"llm_base_url={llm.url}", "--set", "llm_model=slow"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    yield proc, url
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    llm.server.shutdown()


def test_sigterm_lets_the_answer_in_flight_finish(served, seed_index_dir):
    proc, url = served
    health = httpx.get(f"{url}/healthz").json()
    assert health["status"] == "ok" and health["version"]
    auth = {"Authorization": f"Bearer {KEY}"}
    model = httpx.get(f"{url}/v1/models", headers=auth, timeout=120).json()["data"][0]["id"]
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "Ai chủ trì hội nghị?"}]}
    events, stopped_at = [], None
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=60,
                      headers=auth) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(line[6:])
            if stopped_at is None and line[6:] != "[DONE]":
                proc.send_signal(signal.SIGTERM)  # mid-answer, as `systemctl stop` does
                stopped_at = time.monotonic()
                time.sleep(0.3)
                with pytest.raises(httpx.ConnectError):  # no new connections once stopping
                    httpx.get(f"{url}/healthz", timeout=2)
    assert events[-1] == "[DONE]", events[-3:]
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1] if json.loads(e)["choices"])
    assert "Phó Thủ tướng" in text and len(text) > 100          # the whole answer, not a cut-off one
    assert proc.wait(timeout=60) == 0
    assert time.monotonic() - stopped_at > 1                    # it waited for the answer
    with index_lock(seed_index_dir):                             # nothing left locked
        pass
