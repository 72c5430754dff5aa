"""ONNX files made once from a torch model: exported, fused by onnxruntime's transformer optimiser and
(for ``int8``) dynamically quantised per channel; cached under ``<home>/models/onnx/<name>-<digest>/``,
where the digest names the weights they were made from, so changed weights get new files.

Building needs torch (set-up, ``virag model build``); reading them needs only onnxruntime.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError

logger = logging.getLogger(__name__)

# Bump when the export recipe changes: every cached file is rebuilt.
EXPORT_VERSION = 2
PRECISIONS = ("int8", "float32")
STAMP = "virag_onnx.json"


@dataclass(frozen=True)
class OnnxSpec:
    """What to build: a name, the fingerprint of the weights, the graph's inputs and outputs, BERT's shape."""

    name: str
    source: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    num_heads: int
    hidden_size: int
    keep_float: tuple[str, ...] = ()  # int8: matrix products whose node names contain one of these stay float32

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.source}|{EXPORT_VERSION}|{self.keep_float}".encode()).hexdigest()[:16]

    def folder(self, home: Path) -> Path:
        return Path(home) / "models" / "onnx" / f"{self.name}-{self.digest}"

    def file(self, home: Path, precision: str) -> Path:
        return self.folder(home) / f"model.{precision}.onnx"

    def files(self, home: Path, precision: str) -> tuple[Path, Path]:
        """The graph and its weights beside it (external data, which onnxruntime maps instead of parsing:
        the float32 reader's session opens in 0.1 s instead of 1.2)."""
        graph = self.file(home, precision)
        return graph, graph.with_name(graph.name + ".data")


def cached(spec: OnnxSpec, home: Path, precision: str) -> Path | None:
    """The built graph when it and its weights are there whole (the stamp records their sizes), else None."""
    files = spec.files(home, precision)
    try:
        stamp = json.loads((files[0].parent / STAMP).read_text(encoding="utf-8"))
        whole = all(p.is_file() and p.stat().st_size == stamp["files"][p.name]["size"] for p in files)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return files[0] if stamp.get("source") == spec.source and whole else None


def build(spec: OnnxSpec, module, example: tuple, home: Path, precision: str) -> Path:
    """Export ``module`` (a torch module taking ``spec.inputs`` positionally) and write ``precision``'s file."""
    if precision not in PRECISIONS:
        msg = f"ONNX precision must be one of {', '.join(PRECISIONS)}, got {precision!r}."
        raise ModelError(msg)
    import torch

    folder = spec.folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".build-", dir=folder) as tmp:
        raw, fused, final = Path(tmp, "raw.onnx"), Path(tmp, "fused.onnx"), Path(tmp, "final.onnx")
        dynamic = {name: {0: "batch", 1: "tokens"} for name in (*spec.inputs, *spec.outputs)}
        try:
            _eager_attention(module)
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # tracer notes on Python branches over shapes
                # the TorchScript exporter: its BERT graph is the one onnxruntime's optimiser fuses
                torch.onnx.export(module.eval(), example, str(raw), input_names=list(spec.inputs),
                                  output_names=list(spec.outputs), dynamic_axes=dynamic, opset_version=17,
                                  dynamo=False)
            _fuse(raw, fused, spec)
            if precision == "int8":
                _quantize(fused, final, spec.keep_float)
            else:
                fused.replace(final)
            graph, weights = spec.files(home, precision)
            import onnx

            onnx.save_model(onnx.load(str(final)), str(Path(tmp, graph.name)), save_as_external_data=True,
                            all_tensors_to_one_file=True, location=weights.name, size_threshold=1024)
        except ModelError:
            raise
        except Exception as exc:  # torch.onnx and onnxruntime raise many kinds here
            msg = f"Cannot build the ONNX {spec.name} ({precision}): {exc}. `--set backend=torch` runs without it."
            raise ModelError(msg) from exc
        for target in (weights, graph):  # each atomic; the stamp, written last, vouches for the pair
            os.replace(Path(tmp, target.name), target)
    _record(folder, spec, (graph, weights))
    size = sum(p.stat().st_size for p in (graph, weights)) / 1e6
    logger.info("Built %s in %.0f s (%.0f MB)", graph, time.perf_counter() - started, size)
    _remove_stale(folder.parent, spec.name)
    return graph


def _remove_stale(parent: Path, name: str) -> None:
    """Delete ``name``'s folders that an older export version made: this version never reads them again, and
    each holds up to 600 MB. Folders of the current version stay (other weights another setting may use), and
    so does any folder without a stamp yet (a build in progress)."""
    for folder in parent.glob(f"{name}-*"):
        try:
            version = json.loads((folder / STAMP).read_text(encoding="utf-8")).get("export_version")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(version, int) and version < EXPORT_VERSION:
            shutil.rmtree(folder, ignore_errors=True)
            logger.info("Removed %s (ONNX files of export version %d)", folder, version)


def _eager_attention(module) -> None:
    """Attention written out as matrix products: the form onnxruntime's optimiser fuses into one Attention
    kernel (scaled-dot-product attention exports as a graph it does not recognise)."""
    for sub in module.modules():
        if hasattr(sub, "set_attn_implementation") and hasattr(sub, "config"):
            sub.set_attn_implementation("eager")


def _fuse(src: Path, dst: Path, spec: OnnxSpec) -> None:
    """onnxruntime's BERT fusions (attention, skip layer norm, bias GELU): fewer, larger kernels."""
    from onnxruntime.transformers.optimizer import optimize_model

    with _quiet():  # the optimiser logs every fusion at INFO
        optimized = optimize_model(str(src), model_type="bert", num_heads=spec.num_heads,
                                   hidden_size=spec.hidden_size, opt_level=0)
        optimized.save_model_to_file(str(dst))


def _quantize(src: Path, dst: Path, keep_float: tuple[str, ...] = ()) -> None:
    """Dynamic int8, weights per output channel; activations are quantised per call by onnxruntime."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src), load_external_data=False).graph
    kept = [n.name for n in graph.node if any(part in n.name for part in keep_float)] if keep_float else []
    with _quiet():  # its advice to pre-process (shape inference) is for static quantisation
        quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8, nodes_to_exclude=kept,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # types the fused ops lack


@contextmanager
def _quiet():
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _record(folder: Path, spec: OnnxSpec, paths: tuple[Path, ...]) -> None:
    """Add ``paths`` to the folder's stamp (other precisions' entries stay)."""
    stamp_path = folder / STAMP
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = {}
    if stamp.get("source") != spec.source:
        stamp = {"source": spec.source, "export_version": EXPORT_VERSION, "files": {}}
    for path in paths:
        stamp["files"][path.name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    tmp = stamp_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp, indent=2), encoding="utf-8")
    os.replace(tmp, stamp_path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(spec: OnnxSpec, home: Path, precision: str) -> tuple[bool, str]:
    """Thorough check for ``virag model check``: the files' sha256 are the ones recorded when they were built."""
    path = cached(spec, home, precision)
    if path is None:
        return False, f"ONNX {spec.name} ({precision}) not built under {spec.folder(home)}; run `virag model build`."
    stamp = json.loads((path.parent / STAMP).read_text(encoding="utf-8"))
    files = spec.files(home, precision)
    for p in files:
        if file_sha256(p) != stamp["files"][p.name]["sha256"]:
            return False, f"{p}: corrupted (checksum mismatch); run `virag model build`."
    return True, f"{path}: OK ({sum(p.stat().st_size for p in files) / 1e6:.0f} MB)"


def session(path: Path, threads: int):
    """An onnxruntime CPU session with ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error kinds
        msg = f"Cannot load {path} ({exc}); delete it and run `virag model build`."
        raise ModelError(msg) from exc
