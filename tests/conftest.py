"""Shared fixtures: the real embedded model, loaded once; network access blocked except loopback."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_DEV = ROOT / "evals" / "seed_dev.jsonl"
DATA = Path(__file__).resolve().parent / "data"

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
        return _real_connect(self, address)
    msg = f"Network access to {address!r} is blocked in tests"
    raise RuntimeError(msg)


@pytest.fixture(autouse=True)
def _block_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def settings():
    from rag import Settings

    return Settings()


@pytest.fixture(scope="session")
def encoder(settings):

    enc = settings.encoder()
    enc.warm_up()
    return enc


@pytest.fixture(scope="session")
def torch_encoder(settings):
    """The reference backend: sentence-transformers on torch, float32."""
    enc = settings.with_(backend="torch").encoder()
    enc.warm_up()
    return enc


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("seed-index")


@pytest.fixture(scope="session")
def seed_assistant(settings, encoder, seed_index_dir):
    from rag import Assistant

    return Assistant.from_folder(SEEDS, settings=settings, index_dir=seed_index_dir, encoder=encoder)


@pytest.fixture
def corpus(tmp_path):
    """A writable copy of the seeds."""
    dest = tmp_path / "corpus"
    shutil.copytree(SEEDS, dest)
    return dest
