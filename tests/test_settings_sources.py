"""Settings from pyproject.toml's [tool.virag], virag.toml, $VIRAG_<NAME> and --set, in that order of
precedence; each source checked strictly, its errors naming the key and the source."""

from __future__ import annotations

import json

import pytest

from rag.config import Settings
from rag.errors import ConfigError
from rag.settings_sources import load_settings
from ui.cli import main


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty working folder with no VIRAG_ setting in the environment."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in __import__("os").environ if k.upper().startswith("VIRAG_")]:
        if key.upper() not in ("VIRAG_HOME",):
            monkeypatch.delenv(key)
    return tmp_path


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_file_then_environment_then_set(project, monkeypatch, capsys):
    write(project / "pyproject.toml", "[tool.virag]\ncandidates = 40\ntop_k = 2\n")
    write(project / "virag.toml", 'top_k = 3\nanswerer = "reader"\n\n[retrieval]\nfusion = "rrf"\ndense_weight = 1\n')
    assert load_settings().retrieval.top_k == 3                  # virag.toml over [tool.virag]
    monkeypatch.setenv("VIRAG_TOP_K", "7")
    monkeypatch.setenv("virag_stop_at_answer", "no")               # any case
    s = load_settings()
    assert (s.retrieval.top_k, s.answer.stop_at_answer) == (7, False)
    s = load_settings(["top_k=9"])
    r = s.retrieval
    assert (r.top_k, r.candidates, r.fusion, r.dense_weight, s.answer.answerer) == (9, 40, "rrf", 1.0, "reader")
    assert Settings() == Settings().with_()                        # the library's Settings() reads none of them
    assert Settings().retrieval.top_k == 5

    assert main(["settings", "--json", "--set", "top_k=9"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["top_k"] == {"value": 9, "from": "--set"}
    assert shown["stop_at_answer"] == {"value": False, "from": "$VIRAG_STOP_AT_ANSWER"}
    assert shown["answerer"]["from"].endswith("virag.toml")
    assert shown["candidates"]["from"].endswith("pyproject.toml [tool.virag]")
    assert shown["bm25_weight"] == {"value": 1.0, "from": "default"}


def test_a_named_config_file_replaces_virag_toml(project, capsys):
    write(project / "virag.toml", "top_k = 3\n")
    other = write(project / "prod.toml", "top_k = 6\n")
    assert load_settings(config=other).retrieval.top_k == 6
    with pytest.raises(ConfigError, match="Settings file .*missing.toml not found"):
        load_settings(config=project / "missing.toml")
    assert main(["settings", "--config", str(other)]) == 0
    assert "top_k  6  (" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "message"), [
    ('stop_at_answer = "maybe"', "virag.toml: setting 'stop_at_answer' = 'maybe': Input should be a valid boolean"),
    ('top_k = "8"', "virag.toml: setting 'top_k' = '8': Input should be a valid integer"),  # TOML has integers
    ("top_k = 0", "virag.toml: Setting 'top_k' must be positive, got 0"),
    ("topk = 3", "virag.toml: unknown setting 'topk'"),
    ('[answer]\ntop_k = 3', "virag.toml: unknown setting 'answer.top_k'; the 'answer' group has answerer"),
    ('fusion = "max"', "virag.toml: setting 'fusion' = 'max': Input should be 'zscore' or 'rrf'"),
    ("top_k = ", "virag.toml: not valid TOML"),
])
def test_a_bad_file_is_an_error_naming_the_key_and_the_file(project, text, message):
    write(project / "virag.toml", text + "\n")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings()


def test_pyproject_errors_name_its_table(project):
    write(project / "pyproject.toml", "[project]\nname = 'x'\n\n[tool.virag]\nrestore_diacritics = 'sometimes'\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml \[tool.virag\]: setting 'restore_diacritics'"):
        load_settings()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("VIRAG_STOP_AT_ANSWER", "maybe", "$VIRAG_STOP_AT_ANSWER: setting 'stop_at_answer' = 'maybe': Input should be "
                                      "a valid boolean"),
    ("VIRAG_TOP_K", "0", "$VIRAG_TOP_K: Setting 'top_k' must be positive"),
    ("VIRAG_TOP_K", "many", "$VIRAG_TOP_K: setting 'top_k' = 'many': Input should be a valid integer"),
    ("VIRAG_TOPK", "3", "$VIRAG_TOPK: no setting is called 'topk'"),
])
def test_a_bad_variable_is_an_error_naming_it(project, monkeypatch, capsys, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message.replace("$", r"\$").replace("(", r"\(")):
        load_settings()
    assert main(["settings"]) == 1                                   # the CLI says it and exits 1
    assert message.split(":")[0] in capsys.readouterr().err


def test_secrets_and_optional_values_from_the_environment(project, monkeypatch):
    monkeypatch.setenv("VIRAG_API_KEY", "not a setting, and not an error")
    monkeypatch.setenv("VIRAG_LLM_MODEL", "none")
    monkeypatch.setenv("VIRAG_READER_SURE_MARGIN", "inf")
    s = load_settings(["llm_model=qwen"])
    assert (s.llm.llm_model, s.reader.reader_sure_margin) == ("qwen", float("inf"))
    assert load_settings().llm.llm_model is None


def test_the_cli_uses_them(project, monkeypatch, capsys):
    """A bad boolean in the file stops every command before any work, naming the file."""
    write(project / "virag.toml", "legal_structure = 2\n")
    assert main(["index", str(project), "--index", str(project / "idx")]) == 1
    err = capsys.readouterr().err
    assert "virag.toml: setting 'legal_structure' = 2: Input should be a valid boolean" in err
    assert not (project / "idx").exists()
