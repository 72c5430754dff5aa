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


def test_the_virag_command_exits_at_once_with_its_answer_whole_and_its_status(seed_index_dir, seed_assistant):
    """`virag ask` leaves what it loaded to the OS (ui.cli.run): the answer still arrives whole through a pipe,
    and an error still exits 1."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "ui.cli", "ask", "--index", str(seed_index_dir), "--json"]
    done = subprocess.run([*command, "Cụm thi đua số 2 gồm những tỉnh nào?"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(p in json.loads(done.stdout)["answer"] for p in PROVINCES)
    failed = subprocess.run([*command, " "], capture_output=True, text=True, timeout=300, check=False)
    assert failed.returncode == 1 and "empty" in failed.stderr


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


def test_a_file_of_questions_is_answered_in_one_process(capsys, tmp_path, seed_index_dir, seed_assistant, monkeypatch):
    """`virag ask --questions`: plain lines, JSONL and CSV in; JSONL and CSV out, one record a question; `-` reads
    standard input, for the file and for a single question."""
    import csv
    import io

    seeds = [json.loads(line)["question"] for line in (SEEDS.parent / "evals" / "seed_dev.jsonl").open(encoding="utf-8")]
    lines = tmp_path / "cau-hoi.txt"
    lines.write_text("\n".join(seeds) + "\n\n", encoding="utf-8")
    index = ["--index", str(seed_index_dir), "-q"]
    assert main(["ask", "--questions", str(lines), "-o", str(tmp_path / "a.jsonl"), *index]) == 0
    records = [json.loads(r) for r in (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["question"] for r in records] == seeds and len(records) == 30
    cited = [c for r in records for c in r["citations"]]
    assert cited and all((SEEDS / c["source"]).read_text(encoding="utf-8")[c["start"]:c["end"]] == c["quote"]
                         for c in cited)

    table = tmp_path / "q.csv"
    table.write_text("id,question\n1,Cụm thi đua số 2 gồm những tỉnh nào?\n2,\"Ai chủ trì hội nghị, ở đâu?\"\n",
                     encoding="utf-8")
    assert main(["ask", "--questions", str(table), "-o", str(tmp_path / "a.csv"), *index]) == 0
    rows = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8")))
    assert [r["question"] for r in rows] == ["Cụm thi đua số 2 gồm những tỉnh nào?", "Ai chủ trì hội nghị, ở đâu?"]
    assert "Hà Tĩnh" in rows[0]["answer"] and rows[0]["citations"].startswith("[1] ")
    capsys.readouterr()

    for given in ('{"question": "Cụm thi đua số 2 gồm những tỉnh nào?"}\n', "Cụm thi đua số 2 gồm những tỉnh nào?\n"):
        monkeypatch.setattr("sys.stdin", io.StringIO(given))  # JSONL or lines, told apart by the first character
        assert main(["ask", "--questions", "-", *index]) == 0
        answered = [json.loads(r) for r in capsys.readouterr().out.splitlines()]
        assert len(answered) == 1 and answered[0]["question"] == "Cụm thi đua số 2 gồm những tỉnh nào?"
        assert "Hà Tĩnh" in answered[0]["answer"]
    monkeypatch.setattr("sys.stdin", io.StringIO("Cụm thi đua số 2 gồm những tỉnh nào?\n"))
    assert main(["ask", "-", "--json", *index]) == 0
    assert "Hà Tĩnh" in json.loads(capsys.readouterr().out)["answer"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Một?"}\n{"q": 2}\n', encoding="utf-8")
    assert main(["ask", "--questions", str(bad), *index]) == 1
    assert "bad.jsonl, line 2: needs a 'question' field" in capsys.readouterr().err


def test_version_index_json_and_verbosity_anywhere(capsys, tmp_path, seed_assistant):
    from rag import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"virag {__version__}"
    corpus = tmp_path / "c"
    shutil.copytree(SEEDS, corpus)
    (corpus / "rỗng.txt").write_text("", encoding="utf-8")
    assert main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--json", "-q"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["documents"] == 5 and len(report["added"]) == 5 and report["chunks"] > 0
    assert [s["source"] for s in report["skipped"]] == ["rỗng.txt"]
    assert main(["-v", "index", str(corpus), "--index", str(tmp_path / "idx")]) == 0
    err = capsys.readouterr().err
    assert err.count("rỗng.txt") == 1  # a skipped file is reported once
