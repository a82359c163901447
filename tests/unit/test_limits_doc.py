"""The tables of limits (docs/protocol.md, README.md) say what the code does: every flag a
row of protocol.md names has its default in that row, and the README's figures are the
defaults of reference_backend.settings and its constants."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pigeon_lab.cluster.spec import ClusterSpec
from reference_backend import auth, guards, output, readgate, validation
from reference_backend.app import MAX_PACKET_BYTES
from reference_backend.handlers import MAX_ROOMS_PER_CONN
from reference_backend.settings import Settings
from reference_backend.speedups import MAX_JUNK

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = {name: f.default for name, f in Settings.model_fields.items()}


def _table(text: str, heading: str) -> list[str]:
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append(line)
    return rows


def _spellings(value: float) -> set[str]:
    out = {f"{value:g}", f"{value:,.0f}" if value == int(value) else f"{value:g}"}
    if value == int(value):
        v = int(value)
        out |= {str(v), f"{v:,}"}
        if v % (1024 * 1024) == 0:
            out.add(f"{v // (1024 * 1024)} MiB")
        if v % 86400 == 0:
            out.add(f"{v // 86400} days")
        if v % 3600 == 0:
            out.add(f"{v // 3600} h")
    return out


def test_every_flag_in_protocol_md_has_its_default_in_its_row() -> None:
    rows = _table((ROOT / "docs/protocol.md").read_text(), "## Limits of the reference backend")
    assert len(rows) > 15
    flagged = 0
    for row in rows:
        for flag in re.findall(r"`--([a-z-]+)`", row):
            dest = flag.replace("-", "_")
            assert dest in DEFAULTS, f"{flag}: not a flag of reference_backend.settings"
            spelled = _spellings(float(DEFAULTS[dest]))
            assert any(s in row for s in spelled), (flag, DEFAULTS[dest], row)
            flagged += 1
    assert flagged >= 15


@pytest.mark.parametrize(
    "needle",
    [
        f"{DEFAULTS['max_body']} bytes / {validation.MAX_CLIENT_MSG_ID} chars",
        f"{DEFAULTS['conn_rate']:g}/s, burst {DEFAULTS['conn_burst']:g}",
        f"{DEFAULTS['user_rate']:g}/s, burst {DEFAULTS['user_burst']:g} / "
        f"{DEFAULTS['ws_rate']:g}/s, burst {DEFAULTS['ws_burst']:g}",
        f"{DEFAULTS['max_reads_per_conn']} / {DEFAULTS['max_reads_per_workspace']} / "
        f"{DEFAULTS['max_reads']} (Redis pool {DEFAULTS['redis_max_connections']})",
        f"after {readgate.ReadGate(1, 1, 1).wait_s:g} s in line",
        f"| {DEFAULTS['max_output_bytes'] >> 20} MiB |",
        f"{DEFAULTS['poll_budget_bytes'] >> 20} MiB / {output.MAX_POST_PACKETS} packets",
        f"| {DEFAULTS['max_frames_per_s']}/s (",
        f"{DEFAULTS['retention']:,} messages and {DEFAULTS['log_ttl_s'] // 86400} days",
        f"| {DEFAULTS['dedupe_ttl_s'] // 3600} h |",
    ],
)
def test_the_readme_table_matches_the_code(needle: str) -> None:
    rows = "\n".join(_table((ROOT / "README.md").read_text(), "## Limits of the reference backend"))
    assert needle in rows


def test_protocol_md_states_the_constants() -> None:
    text = (ROOT / "docs/protocol.md").read_text()
    for needle in (
        f"at most {validation.MAX_FIELDS} fields",
        f"<= {validation.MAX_EXTRA_STR} chars",
        f"default {validation.DEFAULT_LIMIT}, at most {validation.MAX_LIMIT} returned",
        f"| {MAX_ROOMS_PER_CONN} | `forbidden`",
        f"at most {auth.MAX_TOKEN_LEN} chars",
        f"a POST at most {output.MAX_POST_PACKETS} packets",
        f"| {MAX_JUNK} (each one dropped",
        f"{guards.MAX_ATTACHMENTS} per packet, {guards.MAX_ATTACHMENT_BYTES >> 20} MiB in all",
        f"{MAX_PACKET_BYTES:,} bytes",
        f"| {ClusterSpec(run_dir=Path('.')).redis_maxmemory_mb} MiB, `noeviction`",
    ):
        assert needle in text, needle
