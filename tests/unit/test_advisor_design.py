"""Design files: what loads, and one clear error (file, field, reason) for what does not;
through the CLI, one line and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pigeon_lab.advisor.design import load_design
from pigeon_lab.errors import ConfigError

EXE = Path(sys.executable).with_name("pigeon-lab")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "design.yaml"
    path.write_text(text)
    return path


def test_the_reference_design_loads_with_its_name() -> None:
    d = load_design("reference")
    assert d.name == "reference"
    assert d.load_balancer.stickiness == ("cookie", "sid")
    assert d.client.reconnect.jitter == "full"


def test_a_partial_design_loads_and_takes_its_file_name(tmp_path: Path) -> None:
    d = load_design(write(tmp_path, "redis: {durability: fast}\n"))
    assert d.name == "design" and d.redis.durability == "fast" and d.acks.after is None


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("load_balancer: {stickyness: [cookie]}\n", "load_balancer.stickyness",
         "unknown field 'stickyness'; did you mean 'stickiness'?"),
        ("load_balancer: {stickiness: [cookie, session]}\n", "load_balancer.stickiness[1]",
         "expected one of 'cookie', 'sid' or 'ip-hash', got 'session'"),
        ("redis: {durability: eventually}\n", "redis.durability",
         "expected one of 'fast' or 'replicated', got 'eventually'"),
        ("components: {nodes: 0}\n", "components.nodes", "must be >= 1, got 0"),
        ("client:\n  reconnect: {jitter: lots}\n", "client.reconnect.jitter", "got 'lots'"),
        ("acks: {dedupe: maybe}\n", "acks.dedupe", "expected true or false, got 'maybe'"),
        ("redis: fast\n", "redis", "expected a mapping"),
    ],
)  # fmt: skip
def test_a_bad_field_names_file_field_and_reason(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_design(path)
    assert err.value.source == str(path)
    assert err.value.field == field
    assert reason in str(err.value)


def test_a_yaml_error_has_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"invalid YAML at line 2, column \d+"):
        load_design(write(tmp_path, "redis:\n  durability: fast: replicated\n"))


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a design file is a mapping of sections"):
        load_design(write(tmp_path, "- redis\n"))


def test_a_missing_design_file() -> None:
    with pytest.raises(ConfigError, match="no-such-design: no such design file"):
        load_design("no-such-design")


def test_review_of_a_malformed_design_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "acks:\n  after: eventually\n")
    done = subprocess.run(
        [str(EXE), "review", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and "acks.after" in lines[0]
    assert "expected one of 'durable-write', 'receive' or 'publish', got 'eventually'" in (
        " ".join(done.stderr.split())
    )
    assert "(line 2)" in lines[0]
