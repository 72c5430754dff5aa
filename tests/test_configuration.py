"""Every setting is declared once, with a line of why; docs/configuration.md is generated from the
declarations; each stage takes its own option group."""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import pytest

from rag.config import GROUPS, Settings, reference_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@pytest.mark.parametrize("group", list(GROUPS))
def test_every_setting_says_why(group):
    missing = [f.name for f in fields(GROUPS[group]) if not f.metadata.get("why", "").strip()]
    assert not missing, f"settings of '{group}' without a description: {missing}"


def test_setting_names_are_unique_across_groups():
    names = [f.name for cls in GROUPS.values() for f in fields(cls)]
    assert len(names) == len(set(names)) and "home" not in names


def test_the_reference_is_generated_from_the_declarations():
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/configuration.md is out of date: run `python -m rag.config > docs/configuration.md`")
    for cls in GROUPS.values():
        for f in fields(cls):
            assert f"| `{f.name}` |" in reference_markdown()


def test_flat_names_and_group_names_reach_the_same_setting():
    s = Settings().with_(top_k=8, answerer="reader", chunk_tokens=128)
    assert (s.retrieval.top_k, s.answer.answerer, s.chunking.chunk_tokens) == (8, "reader", 128)
    assert Settings().to_dict()["top_k"] == 5 and set(Settings().to_dict()) >= {"home", "reader_threshold"}


@pytest.mark.parametrize(("stage", "group"), [
    ("rag.search.retriever:HybridRetriever", "RetrievalOptions"),
    ("rag.answer.sentences:SentenceAnswerer", "AnswerOptions"),
    ("rag.answer.reader_answerer:ReaderAnswerer", "ReaderOptions"),
    ("rag.answer.llm:make_chat_model", "LLMOptions"),
    ("rag.ingest.chunking:chunker_for", "ChunkingOptions"),
])
def test_each_stage_takes_its_own_group(stage, group):
    import importlib

    module, _, name = stage.partition(":")
    target = getattr(importlib.import_module(module), name)
    annotations = [str(p.annotation) for p in inspect.signature(target).parameters.values()]
    assert group in annotations and "Settings" not in annotations, (stage, annotations)
