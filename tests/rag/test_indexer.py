import re

import pytest

from rag import Settings
from rag.errors import ConfigError, CorpusError
from rag.index.indexer import Indexer


class CountingEncoder:
    """The real encoder, counting how many passages it embeds."""

    def __init__(self, encoder):
        self._enc, self.embedded = encoder, 0

    def encode_documents(self, texts, **kw):
        self.embedded += len(texts)
        return self._enc.encode_documents(texts, **kw)

    def __getattr__(self, name):
        return getattr(self._enc, name)


def test_reopen_without_change_embeds_nothing(settings, encoder, corpus, tmp_path):
    counting = CountingEncoder(encoder)
    first = Indexer(settings, counting).run(corpus, tmp_path / "idx")
    assert counting.embedded == len(first.index.chunks) > 0
    again = Indexer(settings, counting).run(corpus, tmp_path / "idx")
    assert counting.embedded == len(first.index.chunks)  # no new embedding
    assert not again.wrote and len(again.unchanged) == 5


def test_changed_file_reembeds_only_that_file(settings, encoder, corpus, tmp_path):
    counting = CountingEncoder(encoder)
    first = Indexer(settings, counting).run(corpus, tmp_path / "idx")
    target = corpus / "000_235558df8fbeb811.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nCâu bổ sung về hội nghị cuối năm.", encoding="utf-8")
    (corpus / "002_f2420c0540b3194a.txt").unlink()
    counting.embedded = 0
    report = Indexer(settings, counting).run(corpus, tmp_path / "idx")
    assert report.changed == ["000_235558df8fbeb811.txt"] and report.removed == ["002_f2420c0540b3194a.txt"]
    assert counting.embedded == report.index.manifest.files["000_235558df8fbeb811.txt"]["chunks"]
    assert {c.source for c in report.index.chunks} == set(first.index.manifest.files) - {"002_f2420c0540b3194a.txt"}
    # unchanged files keep identical vectors
    old = [i for i, c in enumerate(first.index.chunks) if c.source == "001_7d2fc00ee8fcd6c5.txt"]
    new = [i for i, c in enumerate(report.index.chunks) if c.source == "001_7d2fc00ee8fcd6c5.txt"]
    assert (first.index.vectors_of(old) == report.index.vectors_of(new)).all()


def test_chunker_setting_change_rebuilds_with_a_message(settings, encoder, corpus, tmp_path, caplog):
    Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    report = Indexer(settings.with_(chunk_tokens=128), encoder).run(corpus, tmp_path / "idx")
    assert report.rebuild_reason and "chunker settings changed" in report.rebuild_reason
    assert "chunker settings changed" in caplog.text


def test_corrupted_index_is_rebuilt_with_a_message(settings, encoder, corpus, tmp_path):
    first = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    (first.index.path / "store.sqlite").write_text("garbage", encoding="utf-8")
    report = Indexer(settings, encoder).run(corpus, tmp_path / "idx")
    assert "corrupted" in report.rebuild_reason and len(report.index.chunks) == len(first.index.chunks)


def test_empty_corpus_is_a_clear_error(settings, encoder, tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(CorpusError, match=re.escape(f"Corpus '{tmp_path / 'c'}' has no readable documents")):
        Indexer(settings, encoder).run(tmp_path / "c", tmp_path / "idx")


def test_settings_reject_bad_values():
    with pytest.raises(Exception, match="'top_k' must be positive"):
        Settings().with_(top_k=0)


def test_settings_overrides_are_typed_and_validated():
    s = Settings().with_overrides(["top_k=7", "dense_weight=1.5", "fusion=rrf", "restore_diacritics=false"])
    r = s.retrieval
    assert (r.top_k, r.dense_weight, r.fusion, r.restore_diacritics) == (7, 1.5, "rrf", False)
    assert Settings().with_overrides(["retrieval.top_k=9"]).retrieval.top_k == 9
    assert Settings().with_overrides(["reader_sure_margin=inf"]).reader.reader_sure_margin == float("inf")
    assert Settings().with_overrides(["llm_model=none"]).llm.llm_model is None
    for bad, message in [("restore_diacritics=maybe", "--set 'restore_diacritics=maybe': setting 'restore_diacritics' "
                          "= 'maybe': Input should be a valid boolean"),
                         ("top_k=3.5", "setting 'top_k' = '3.5': Input should be a valid integer"),
                         ("answer.top_k=3", "Bad --set 'answer.top_k=3'"),
                         ("fusion=max", "'fusion' = 'max': Input should be 'zscore' or 'rrf'"), ("threads=-1", "'threads' must be >= 0")]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            Settings().with_overrides([bad])
    with pytest.raises(Exception, match=re.escape("Bad --set 'topk=3'")):
        Settings().with_overrides(["topk=3"])
    with pytest.raises(ConfigError, match="'top_k' = 'many': Input should be a valid integer"):
        Settings().with_overrides(["top_k=many"])
