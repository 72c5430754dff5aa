import json

import pytest

from ui.cli import main
from tests.conftest import SEED_DEV, SEEDS

BAD_LINES = [
    '{"id": "b1", "question": "Ai chủ trì?" "answers": []}',
    '{"id": "b2", "question": "Ai chủ trì?", "answers": ["X"], "match": "any", "docs": ["a.txt"], '
    '"evidence": ["X"]}',
    '{"id": "b3", "question": 42, "answers": ["X"], "match": "any", "docs": ["a.txt"], "evidence": ["X"], '
    '"answerable": true}',
]


def test_malformed_file_strict_stops_with_the_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text(SEED_DEV.read_text(encoding="utf-8").splitlines()[0] + "\n" + "\n".join(BAD_LINES) + "\n",
                    encoding="utf-8")
    assert main(["eval", str(path), "--corpus", str(SEEDS), "--strict"]) == 1
    err = capsys.readouterr().err
    assert err == f"Error: {path}:2: not valid JSON: Expecting ',' delimiter (column 40)\n"


def test_malformed_file_lists_every_bad_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(BAD_LINES) + "\n", encoding="utf-8")
    assert main(["eval", str(path), "--corpus", str(SEEDS)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"Error: No valid question in '{path}' (3 invalid entries):",
        f"  {path}:1: not valid JSON: Expecting ',' delimiter (column 40)",
        f"  {path}:2: missing field 'answerable'",
        f"  {path}:3: field 'question' must be a string, got a number",
    ]
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["eval", "none.jsonl", "--corpus", "seeds"], "Error: Question file 'none.jsonl' not found."),
    (["eval", str(SEED_DEV)], "Error: Missing --corpus DIR"),
    (["eval"], "Error: Missing QUESTIONS"),
    (["eval", str(SEED_DEV), "--corpus", "seeds", "--kind", "paraphrase"],
     "Error: No question of kind 'paraphrase' in"),
    (["eval", "--compare", "a.json", "b.json"], "Error: Eval result 'a.json' not found."),
])
def test_usage_errors(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err


def test_eval_end_to_end(tmp_path, capsys, monkeypatch, seed_assistant, seed_index_dir):
    monkeypatch.setattr("evals.cli._encoder", lambda settings: seed_assistant.encoder)  # one model per session
    lines = SEED_DEV.read_text(encoding="utf-8").splitlines()
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join([lines[0], BAD_LINES[1], lines[3], lines[22]]) + "\n", encoding="utf-8")
    out_json, out_md, plots = tmp_path / "out.json", tmp_path / "out.md", tmp_path / "plots"
    assert main(["eval", str(questions), "--corpus", str(SEEDS), "--index", str(seed_index_dir), "--quiet",
                 "--json", str(out_json), "--report", str(out_md), "--plots", str(plots)]) == 0
    captured = capsys.readouterr()
    assert f"Warning: {questions}:2: missing field 'answerable'" in captured.err
    assert "| n_questions | 3 |" in captured.out and "| doc_ndcg@10 |" in captured.out
    d = json.loads(out_json.read_text(encoding="utf-8"))
    assert list(d) == ["n_questions", "retrieval", "answer", "latency_ms", "config", "per_question"]
    assert d["config"]["invalid_lines"] == [f"{questions}:2: missing field 'answerable'"]
    assert d["config"]["questions"] == str(questions) and d["config"]["k"] == 10
    assert "1 invalid line skipped." in out_md.read_text(encoding="utf-8")
    assert sorted(p.name for p in plots.iterdir()) == ["latency_ms.png", "recall_at_k.png"]

    assert main(["eval", "--compare", str(out_json), str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "doc_recall@1" in out and "+0.000" in out


def test_squad_corpus_must_match_or_be_written(tmp_path, capsys):
    from tests.evals.test_squad import SQUAD

    squad = tmp_path / "tiny.json"
    squad.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "other.txt").write_text("Một tài liệu khác.", encoding="utf-8")
    assert main(["eval", str(squad), "--corpus", str(corpus)]) == 1
    err = capsys.readouterr().err
    assert "data[0].paragraphs[1].qas[1]: missing field 'question'" in err  # the bad entry is listed first
    assert "Error: 3 of the 3 passages of" in err and "pass --write-corpus" in err


def test_the_eval_parser_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, ui.cli; ui.cli.build_parser('eval'); import evals.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_command_loads_only_what_it_runs():
    """Parsing `virag ask` loads neither the evaluation nor the benchmark packages; `virag eval` loads its own."""
    import subprocess
    import sys

    code = ("import sys, ui.cli; ui.cli.build_parser('ask').parse_args(['ask', 'q']); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'evals', 'benchmarks', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = "import sys, ui.cli; ui.cli.build_parser('eval'); print('evals.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
