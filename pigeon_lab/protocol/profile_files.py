"""Find and read target profiles: a name in ``./profiles`` or the shipped catalogue, a
YAML file, or an inline mapping. Errors name the file, the field and the reason."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pigeon_lab.config_model import FieldProblem, did_you_mean, format_loc
from pigeon_lab.errors import ConfigError
from pigeon_lab.protocol.profile import Profile

PROFILES_DIR = Path(__file__).resolve().parents[2] / "profiles"
"""The profiles shipped with pigeon-lab (``PIGEON_LAB_PROFILES`` overrides it)."""


def profile_dirs() -> list[Path]:
    dirs = [Path.cwd() / "profiles", Path(os.environ.get("PIGEON_LAB_PROFILES", PROFILES_DIR))]
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def profile_names() -> list[str]:
    return sorted({p.stem for d in profile_dirs() for p in d.glob("*.y*ml")})


def profile_path(ref: str, base: Path | None = None) -> Path:
    """The file a profile name or path refers to (ConfigError listing the catalogue if none)."""
    path = Path(ref)
    candidates = [path] if path.is_absolute() else [(base or Path.cwd()) / path, path]
    for c in candidates:
        if c.is_file():
            return c
    if path.suffix not in (".yaml", ".yml") and "/" not in ref:
        for d in profile_dirs():
            for suffix in (".yaml", ".yml"):
                if (d / f"{ref}{suffix}").is_file():
                    return d / f"{ref}{suffix}"
    names = profile_names()
    raise ConfigError(
        f"no profile {ref!r}; the catalogue has: {', '.join(names) or '(empty)'}"
        f"{did_you_mean(ref, names)}"
    )


def profile_from_mapping(data: Any, source: str) -> Profile:
    """Validate a mapping into a Profile; ConfigError naming ``source`` and the field."""
    if not isinstance(data, dict):
        raise ConfigError("a profile is a mapping of fields", source=source)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first.get("loc", ()))
        ctx = first.get("ctx") or {}
        err = ctx.get("error")
        if isinstance(err, FieldProblem):
            loc, msg = (*loc, *err.path), err.reason
        else:
            msg = str(err or first.get("msg", exc))
        if first.get("type") == "extra_forbidden":
            msg = f"unknown field {loc[-1]!r}"
        raise ConfigError(msg.removeprefix("Value error, "), source=source,
                          field=format_loc(loc) or None) from None  # fmt: skip


def load_profile(ref: str | dict[str, Any], base: Path | None = None) -> Profile:
    """A profile from a name, a file path, or an inline mapping."""
    if isinstance(ref, dict):
        return profile_from_mapping(ref, source="inline profile")
    path = profile_path(ref, base)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the profile: {exc}", source=str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", source=str(path)) from exc
    data = {} if data is None else data
    if isinstance(data, dict) and "name" not in data:
        data = {**data, "name": path.stem}
    return profile_from_mapping(data, source=str(path))


__all__ = ["PROFILES_DIR", "load_profile", "profile_from_mapping", "profile_names", "profile_path"]
