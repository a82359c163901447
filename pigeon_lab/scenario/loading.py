"""Find, load, validate and dump scenario files; list the catalogue.

A name (``smoke``) is looked up as ``scenarios/<name>.yaml`` in the current
directory, then in the catalogue shipped with pigeon-lab; anything that looks
like a path (``a/b.yaml``, ``x.yml``, an existing file) is read as is. The file
is merged over the model's defaults, then ``overrides`` over the file.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError

from pigeon_lab.errors import ConfigError
from pigeon_lab.scenario._common import did_you_mean
from pigeon_lab.scenario._errors import translate, yaml_error
from pigeon_lab.scenario.model import Scenario

CATALOGUE_DIR = Path(__file__).resolve().parents[2] / "scenarios"
"""The scenarios shipped with pigeon-lab (``PIGEON_LAB_SCENARIOS`` overrides it)."""

REDACTED = "<redacted>"


class CatalogueEntry(NamedTuple):
    """One scenario file: its name (file stem), path and one-line summary."""

    name: str
    path: Path
    summary: str


def scenario_dirs() -> list[Path]:
    """Where names are looked up, first match wins: ./scenarios, then the catalogue."""
    dirs = [Path.cwd() / "scenarios", Path(os.environ.get("PIGEON_LAB_SCENARIOS", CATALOGUE_DIR))]
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def catalogue() -> list[CatalogueEntry]:
    """Every scenario that a name can reach, sorted by name; a broken file says so."""
    found: dict[str, CatalogueEntry] = {}
    for d in scenario_dirs():
        for path in sorted([*d.glob("*.yaml"), *d.glob("*.yml")]):
            if path.stem not in found:
                found[path.stem] = CatalogueEntry(path.stem, path, _summary(path))
    return sorted(found.values())


def _summary(path: Path) -> str:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"(unreadable: {type(exc).__name__})"
    description = data.get("description") if isinstance(data, dict) else None
    return str(description).strip().splitlines()[0] if description else ""


def resolve_path(name_or_path: str | Path) -> Path:
    """The file a scenario name or path refers to; ConfigError listing the catalogue if none."""
    text = str(name_or_path)
    path = Path(text)
    looks_like_path = path.suffix in (".yaml", ".yml") or os.sep in text or "/" in text
    if path.is_file():
        return path
    if not looks_like_path:
        for d in scenario_dirs():
            for suffix in (".yaml", ".yml"):
                candidate = d / f"{text}{suffix}"
                if candidate.is_file():
                    return candidate
    names = [e.name for e in catalogue()]
    listing = ", ".join(names) or "(empty)"
    if looks_like_path:
        raise ConfigError(f"file not found; the catalogue has: {listing}", source=text)
    raise ConfigError(
        f"no scenario named {text!r}; the catalogue has: {listing}{did_you_mean(text, names)}"
    )


def load_scenario(
    name_or_path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> Scenario:
    """Load, merge over defaults, apply ``overrides`` (and ``seed``), validate.

    ``overrides`` is nested (``{"workload": {"users": 10}}``) or dotted
    (``{"workload.users": 10}``); see ``parse_overrides`` for ``--set`` flags.
    """
    path = resolve_path(name_or_path)
    source = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file: {exc}", source=source) from exc
    extra = dict(overrides or {})
    if seed is not None:
        extra["seed"] = seed
    return scenario_from_text(
        text, source=source, overrides=extra, default_name=path.stem, base_dir=path.parent
    )


def scenario_from_text(
    text: str,
    *,
    source: str = "<scenario>",
    overrides: Mapping[str, Any] | None = None,
    default_name: str | None = None,
    base_dir: Path | None = None,
) -> Scenario:
    """Parse YAML ``text`` and validate it; errors name ``source``. Relative paths in it
    (a target profile file) are relative to ``base_dir``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, source) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of fields at the top level, got {type(data).__name__}",
            source=source,
        )
    return scenario_from_dict(
        data,
        source=source,
        overrides=overrides,
        default_name=default_name,
        text=text,
        base_dir=base_dir,
    )


def scenario_from_dict(
    data: Mapping[str, Any],
    *,
    source: str = "<scenario>",
    overrides: Mapping[str, Any] | None = None,
    default_name: str | None = None,
    text: str | None = None,
    base_dir: Path | None = None,
) -> Scenario:
    """Validate a mapping (with ``overrides`` merged over it) into a Scenario."""
    merged = deep_merge(data, expand_dotted(overrides or {}))
    if default_name and "name" not in merged:
        merged["name"] = default_name
    import_plugins(merged.get("plugins"), source)
    try:
        context = {"base_dir": str(base_dir)} if base_dir is not None else None
        return Scenario.model_validate(merged, context=context)
    except ValidationError as exc:
        raise translate(exc, Scenario, source, text) from None


def import_plugins(plugins: Any, source: str = "<scenario>") -> None:
    """Import a scenario's ``plugins`` (modules that register fault kinds, workloads or
    checkers) before the rest of it is validated; a bad one is a ConfigError naming it."""
    if plugins is None:
        return
    if not isinstance(plugins, (list, tuple)):
        raise ConfigError("expected a list of module names", source=source, field="plugins")
    for i, name in enumerate(plugins):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"expected a module name, got {name!r}", source=source, field=f"plugins[{i}]"
            )
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(
                f"cannot import plugin {name!r}: {exc}", source=source, field=f"plugins[{i}]"
            ) from exc


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``; mappings merge, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def expand_dotted(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"workload.users": 10}`` -> ``{"workload": {"users": 10}}`` (nested keys kept)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = str(key).split(".")
        node: dict[str, Any] = {leaf: value}
        for parent in reversed(parents):
            node = {parent: node}
        out = deep_merge(out, node)
    return out


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["workload.users=10", "seed=7"]`` (``--set`` flags) -> nested overrides.

    Values are read as YAML (``10`` is an int, ``[1, 2]`` a list, ``abc`` a string).
    """
    flat: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {item!r}", source="--set")
        try:
            flat[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot read the value of {key!r}: {exc}", source="--set") from exc
    return expand_dotted(flat)


def scenario_data(scenario: Scenario, *, redact: bool = True) -> dict[str, Any]:
    """The resolved scenario as plain data: defaults filled, Nones left out.

    With ``redact`` a target token secret is replaced by ``<redacted>``.
    """
    data: dict[str, Any] = _tidy(scenario.model_dump(mode="json", exclude_none=True))
    token = data.get("target", {}).get("token", {})
    if redact and "secret" in token:
        token["secret"] = REDACTED
    return data


def dump_scenario(scenario: Scenario, *, redact: bool = True) -> str:
    """YAML of the resolved scenario (what a run writes as ``scenario.yaml``)."""
    header = (
        f"# scenario {scenario.name!r} as resolved (defaults filled in), seed {scenario.seed}\n"
    )
    body = yaml.safe_dump(
        scenario_data(scenario, redact=redact), sort_keys=False, allow_unicode=True, width=100
    )
    return header + str(body)


def scenario_json(scenario: Scenario, *, redact: bool = True) -> str:
    """JSON of the resolved scenario."""
    return json.dumps(scenario_data(scenario, redact=redact), indent=2)


def _tidy(value: Any) -> Any:
    """Whole floats as ints (``20`` not ``20.0``), recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def _display(path: Path) -> str:
    """``path`` relative to the current directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
