"""``virag chat`` builds the shared service and serves it on the requested address, opening no browser."""

from __future__ import annotations

import shutil

import pytest

from ui.cli import build_parser, main


@pytest.fixture
def launched(monkeypatch, encoder):
    """Capture ``ui.app.launch`` instead of serving; reuse the session's loaded model."""
    calls = []
    monkeypatch.setattr("rag.config.Settings.encoder", lambda settings: encoder)
    monkeypatch.setattr("ui.app.launch", lambda service, **kw: calls.append((service, kw)))
    return calls


def test_chat_defaults_listen_on_loopback_7860():
    args = build_parser().parse_args(["chat"])
    assert (args.host, args.port, args.corpus) == ("127.0.0.1", 7860, None)


def test_chat_serves_the_corpus_with_uploads(launched, corpus, seed_assistant, seed_index_dir, tmp_path, capsys):
    shutil.copytree(seed_index_dir, tmp_path / "idx")  # the same files: nothing to embed
    assert main(["chat", "--corpus", str(corpus), "--index", str(tmp_path / "idx"), "--port", "7999", "-k", "3"]) == 0
    (service, kw), = launched
    api = kw.pop("api")
    assert kw == {"host": "127.0.0.1", "port": 7999, "quiet": True}
    assert api.token is None and api.cors_origins == ()
    assert service.can_upload and service.corpus == corpus.resolve()
    assert service.settings.retrieval.top_k == 3
    assert "http://127.0.0.1:7999/" in capsys.readouterr().err


def test_chat_from_an_index_alone_disables_uploads(launched, seed_assistant, seed_index_dir):
    assert main(["chat", "--index", str(seed_index_dir), "--host", "127.0.0.1", "--port", "7998"]) == 0
    (service, kw), = launched
    assert not service.can_upload and kw["port"] == 7998


def test_chat_reports_a_busy_port(monkeypatch, encoder, seed_assistant, seed_index_dir, capsys):
    monkeypatch.setattr("rag.config.Settings.encoder", lambda settings: encoder)

    def busy(service, **kw):
        raise OSError("Cannot find empty port in range: 7997-7997")

    monkeypatch.setattr("ui.app.launch", busy)
    assert main(["chat", "--index", str(seed_index_dir), "--port", "7997"]) == 1
    assert "Error: cannot serve on 127.0.0.1:7997" in capsys.readouterr().err


def test_serving_off_loopback_needs_a_token_or_no_auth(launched, monkeypatch, seed_index_dir, capsys):
    monkeypatch.delenv("VIRAG_API_KEY", raising=False)
    with pytest.raises(SystemExit, match="VIRAG_API_KEY"):
        main(["chat", "--index", str(seed_index_dir), "--host", "0.0.0.0"])
    assert not launched
    monkeypatch.setenv("VIRAG_API_KEY", "s3cret")
    assert main(["chat", "--index", str(seed_index_dir), "--host", "0.0.0.0", "--cors-origin", "http://x.test"]) == 0
    (_, kw), = launched
    assert kw["api"].token == "s3cret" and kw["api"].cors_origins == ("http://x.test",)
