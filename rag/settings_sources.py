"""Where settings come from, in rising precedence: ``[tool.virag]`` in ``pyproject.toml``, ``virag.toml``,
``VIRAG_<NAME>`` environment variables, and ``--set NAME=VALUE``.

pydantic-settings reads the files and the environment; pydantic converts and checks each value against
the setting's declared type. Each source is checked on its own, so an error names the key and where it
came from (``virag.toml: 'top_k' …``, ``$VIRAG_STOP_AT_ANSWER …``).
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pydantic import Field, create_model
from pydantic_settings import (BaseSettings, EnvSettingsSource, PyprojectTomlConfigSettingsSource,
                               SettingsConfigDict, TomlConfigSettingsSource)

from .config import GROUPS, Settings, _declared, _group_of, checked_values, parse_pairs
from .errors import ConfigError

CONFIG_FILE = "virag.toml"
ENV_PREFIX = "VIRAG_"
# VIRAG_ variables that are not settings: secrets never live in a settings file, and tools' own.
NOT_SETTINGS = frozenset({"VIRAG_API_KEY", "VIRAG_LLM_API_KEY", "VIRAG_MILVUS_TOKEN", "VIRAG_VIQUAD_DIR"})


@functools.cache
def _reader_schema() -> type[BaseSettings]:
    """The same fields for pydantic-settings' sources (their names, prefix and table)."""

    class Reader(BaseSettings):
        model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, env_parse_none_str="none",
                                          pyproject_toml_table_header=("tool", "virag"), extra="ignore")

    return create_model("ViragSources", __base__=Reader,
                        **{name: (Any, Field(default=None)) for name in _declared()})


@dataclass(frozen=True)
class Source:
    """One place settings came from, and the values it gave (converted, checked)."""

    name: str
    values: dict[str, Any]


def _flatten(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A TOML table as flat names: ``[retrieval] top_k = 8`` and a top-level ``top_k = 8`` are the same."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if key in GROUPS and isinstance(value, Mapping):
            for name, inner in value.items():
                if _group_of().get(name) != key:
                    msg = (f"{where}: unknown setting '{key}.{name}'; the '{key}' group has "
                           f"{', '.join(f.name for f in fields(GROUPS[key]))} (docs/configuration.md).")
                    raise ConfigError(msg)
                flat[name] = inner
        else:
            flat[key] = value
    return flat


def file_source(path: Path) -> Source:
    """The settings of a TOML file: ``virag.toml`` (all of it) or ``pyproject.toml`` (its ``[tool.virag]``)."""
    where = str(path)
    try:
        if path.name == "pyproject.toml":
            table = PyprojectTomlConfigSettingsSource(_reader_schema(), path)()
            where += " [tool.virag]"
        else:
            table = TomlConfigSettingsSource(_reader_schema(), path)()
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML ({exc})."
        raise ConfigError(msg) from None
    except OSError as exc:
        msg = f"{path}: cannot be read ({exc.strerror or exc})."
        raise ConfigError(msg) from None
    return Source(where, checked_values(_flatten(table, where), where, strict=True))


def env_source() -> Source:
    """``VIRAG_<NAME>`` variables (any case of NAME); an unknown ``VIRAG_`` variable is an error, not ignored."""
    for key in sorted(k.upper() for k in os.environ if k.upper().startswith(ENV_PREFIX)):
        if key not in NOT_SETTINGS and key.removeprefix(ENV_PREFIX).lower() not in _declared():
            msg = (f"${key}: no setting is called '{key.removeprefix(ENV_PREFIX).lower()}' (docs/configuration.md); "
                   "unset it or fix its name.")
            raise ConfigError(msg)
    source = EnvSettingsSource(_reader_schema(), case_sensitive=False, env_prefix=ENV_PREFIX,
                               env_parse_none_str="none")
    found = {name: value for name, value in source().items() if name in _declared()}
    values = {}
    for name, value in found.items():
        values.update(checked_values({name: value}, f"${ENV_PREFIX}{name.upper()}", strict=False))
    return Source("environment", values)


def sources(overrides: Iterable[str] = (), *, config: str | Path | None = None, cwd: str | Path | None = None) -> list[Source]:
    """Every source that gives settings, lowest precedence first.

    ``config``: a TOML file read instead of ``./virag.toml`` (an error when it is missing);
    ``pyproject.toml``'s ``[tool.virag]`` in ``cwd`` is read either way.
    """
    cwd = Path(cwd) if cwd is not None else Path.cwd()
    found = []
    if (cwd / "pyproject.toml").is_file():
        found.append(file_source(cwd / "pyproject.toml"))
    if config is not None:
        if not Path(config).is_file():
            msg = f"Settings file {config} not found."
            raise ConfigError(msg)
        found.append(file_source(Path(config)))
    elif (cwd / CONFIG_FILE).is_file():
        found.append(file_source(cwd / CONFIG_FILE))
    found += [env_source(), Source("--set", parse_pairs(overrides))]
    return [source for source in found if source.values]


def load_settings(overrides: Iterable[str] = (), *, config: str | Path | None = None, cwd: str | Path | None = None,
         base: Settings | None = None) -> Settings:
    """Settings from the files, the environment and ``overrides``, each over the one before."""
    settings = base or Settings()
    for source in sources(overrides, config=config, cwd=cwd):
        settings = settings.with_(**source.values)
    return settings


def origins(overrides: Iterable[str] = (), **where) -> dict[str, str]:
    """Setting name → the source its value comes from (the last one that gave it); absent: the default."""
    return {name: f"${ENV_PREFIX}{name.upper()}" if source.name == "environment" else source.name
            for source in sources(overrides, **where) for name in source.values}
