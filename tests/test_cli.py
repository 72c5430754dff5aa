import json
import shutil

import pytest

from ui.cli import main
from tests.conftest import SEEDS

PROVINCES = ["Lạng Sơn", "Quảng Ninh", "Hải Phòng", "Bắc Giang", "Bắc Ninh", "Thái Bình", "Hưng Yên", "Hải Dương",
             "Nam Định", "Hà Nam", "Ninh Bình", "Thanh Hóa", "Nghệ An", "Hà Tĩnh"]


def test_ask_json_lists_all_14_provinces_with_exact_citation(capsys, seed_index_dir, seed_assistant):
    assert main(["ask", "Cụm thi đua số 2 gồm những tỉnh nào?", "--corpus", str(SEEDS),
                 "--index", str(seed_index_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"question", "answer", "abstained", "citations", "passages", "timings_ms"} <= set(out)
    assert not out["abstained"]
    for province in PROVINCES:
        assert province in out["answer"]
    sources = {c["source"] for c in out["citations"]}
    assert "004_67d702c3fe2dbdbb.txt" in sources
    for c in out["citations"]:
        raw = (SEEDS / c["source"]).read_bytes().decode("utf-8")
        assert raw[c["start"] : c["end"]] == c["quote"]
        assert set(c) >= {"n", "source", "start", "end", "quote", "score"}
    assert set(out["passages"][0]) >= {"rank", "source", "start", "end", "score", "text"}


def test_index_then_ask_from_index(capsys, tmp_path, seed_assistant):
    corpus = tmp_path / "tài liệu"
    shutil.copytree(SEEDS, corpus)
    assert main(["index", str(corpus), "--index", str(tmp_path / "idx")]) == 0
    assert "5 documents" in capsys.readouterr().out
    assert main(["ask", "Ai trình bày báo cáo tại hội nghị tổng kết Cụm thi đua số III?",
                 "--index", str(tmp_path / "idx")]) == 0
    assert "[1]" in capsys.readouterr().out


def test_missing_corpus_is_an_error_not_a_traceback(capsys, tmp_path):
    assert main(["ask", "Câu hỏi?", "--corpus", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: Corpus folder") and "Traceback" not in err


def test_missing_index_is_an_error(capsys, tmp_path):
    assert main(["ask", "Câu hỏi?", "--index", str(tmp_path / "none")]) == 1
    assert "No index at" in capsys.readouterr().err


def test_empty_question_is_an_error(capsys, seed_index_dir, seed_assistant):
    assert main(["ask", " ", "--index", str(seed_index_dir)]) == 1
    assert "empty" in capsys.readouterr().err


def test_model_check(capsys):
    assert main(["model", "check"]) == 0
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["ask"], ["model", "frobnicate"]])
def test_bad_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
