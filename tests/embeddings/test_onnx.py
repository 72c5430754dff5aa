"""The ONNX Runtime backend (issue 29): files built offline from the torch model, rebuilt when the weights
change, the same vectors and top passages as torch, and a query path without torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings.encoder import Encoder
from embeddings.onnx_build import EXPORT_VERSION, STAMP
from tests.conftest import ROOT, SEED_DEV

QUESTIONS = [json.loads(line)["question"] for line in SEED_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def tiny_model(folder: Path, builtin: Path, seed: int) -> Path:
    """A two-layer BERT with random weights in a sentence-transformers folder, on the built-in tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = json.loads((builtin / "config.json").read_text(encoding="utf-8"))
    config.update(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    BertModel(BertConfig(**config), add_pooling_layer=False).save_pretrained(str(folder))
    for name in ("tokenizer.json", "tokenizer_config.json", "modules.json", "sentence_bert_config.json",
                 "config_sentence_transformers.json"):
        shutil.copy(builtin / name, folder / name)
    shutil.copytree(builtin / "2_Normalize", folder / "2_Normalize", dirs_exist_ok=True)
    (folder / "1_Pooling").mkdir(exist_ok=True)
    pooling = json.loads((builtin / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "word_embedding_dimension": 32}))
    return folder


def test_onnx_files_are_built_offline_match_torch_and_follow_the_weights(tmp_path, encoder):
    builtin = Path(encoder.builtin_path())
    model = tiny_model(tmp_path / "tiny", builtin, seed=0)
    home = tmp_path / "home"
    # what an older virag left (its export version), what another setting uses, a build in progress
    onnx_dir = home / "models" / "onnx"
    for folder, stamp in (("encoder-0ld", {"export_version": 1}), ("encoder-0ther", {"export_version": EXPORT_VERSION}),
                          ("encoder-bu1lding", None)):
        (onnx_dir / folder).mkdir(parents=True)
        if stamp is not None:
            (onnx_dir / folder / STAMP).write_text(json.dumps(stamp))
    # the second is cut at 512 tokens: ONNX cuts the shared tokenizer's ids as sentence-transformers truncates
    texts = ["Cụm thi đua số 2 gồm những tỉnh nào?", "Hội nghị tổng kết công tác thi đua năm 2024 " * 80, "Ai?"]
    reference = Encoder(str(model), backend="torch").encode_documents(texts)
    for precision, least in (("float32", 0.99999), ("int8", 0.98)):
        onnx = Encoder(str(model), backend="onnx", precision=precision, home=home)  # network is blocked here
        got = onnx.encode_documents(texts)
        assert got.shape == reference.shape and (got * reference).sum(1).min() > least, precision
        assert onnx.model.path.name == f"model.{precision}.onnx"
        assert onnx.fingerprint() == Encoder(str(model), backend="torch").fingerprint()  # one index for both
    folder = onnx.model.path.parent
    assert {p.name for p in onnx_dir.iterdir()} == {folder.name, "encoder-0ther", "encoder-bu1lding"}
    assert set(json.loads((folder / STAMP).read_text())["files"]) == {f"model.{p}.onnx{data}" for p in ("float32", "int8") for data in ("", ".data")}

    tiny_model(model, builtin, seed=1)  # the weights change: new files, from the new weights
    changed = Encoder(str(model), backend="onnx", precision="float32", home=home)
    assert changed.model.path.parent != folder
    now = Encoder(str(model), backend="torch").encode_documents(texts)
    assert (changed.encode_documents(texts) * now).sum(1).min() > 0.99999


def test_settings_choose_the_backend_and_refuse_what_it_cannot_do(settings):
    from rag.errors import ConfigError, ModelError

    assert settings.encoder().backend == "onnx" and settings.encoder().precision == "int8"
    assert settings.with_(backend="torch").encoder().precision == "float32"
    with pytest.raises(ModelError, match="precision"):
        settings.with_(backend="torch", precision="int8").encoder()
    with pytest.raises(ConfigError, match="backend"):
        settings.with_(backend="tensorrt")


def test_both_backends_give_the_same_top_passages_on_the_seed_dev_questions(seed_assistant, torch_encoder):
    """The seed index (built on ONNX int8) searched with torch float32 questions, and with ONNX int8 ones."""
    from rag import Assistant

    reference = Assistant(seed_assistant.index, settings=seed_assistant.settings, encoder=torch_encoder)
    top1, top5 = [], []
    for q in QUESTIONS:
        ours = [p.chunk_id for p in seed_assistant.retriever.run(q).passages[:5]]
        theirs = [p.chunk_id for p in reference.retriever.run(q).passages[:5]]
        top1.append(ours[0] == theirs[0])
        top5.append(len(set(ours) & set(theirs)) / 5)
    assert all(top1), [q for q, same in zip(QUESTIONS, top1) if not same]
    assert np.mean(top5) >= 0.9  # measured 0.93: ranks 4-5 of 23 chunks are near ties


def test_the_query_path_imports_no_torch(seed_assistant, seed_index_dir):
    """Open an index and answer with the default (combined) answerer: the tokenizer, onnxruntime, FAISS, our code;
    not langchain (a second to import), and the tokenizer parsed once (a second each time) for the encoder and the
    reader."""
    script = (
        "import sys, json\n"
        "from rag import Assistant\n"
        f"a = Assistant.from_index({str(seed_index_dir)!r})\n"
        f"answer = a.ask({QUESTIONS[0]!r})\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'langchain_core') if m in sys.modules)\n"
        "from embeddings.tokenizer import _load\n"
        "print(json.dumps({'heavy': heavy, 'answerer': answer.answerer, 'cited': len(answer.citations),\n"
        "                  'parsed': _load.cache_info().misses}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["heavy"] == [] and got["cited"] > 0 and got["parsed"] == 1
