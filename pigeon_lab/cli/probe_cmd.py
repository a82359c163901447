"""`pigeon-lab probe URL`: a running deployment's answers to the architect's questions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pigeon_lab.advisor.findings import ProbeLimits, ProbeResult, Severity

console = Console(stderr=True)

STYLE = {"pass": "green", "finding": "red", "unknown": "yellow"}
SEVERITY_STYLE = {
    "info": "dim",
    "low": "yellow",
    "medium": "dark_orange",
    "high": "red",
    "critical": "bold red",
}

Urls = Annotated[
    list[str] | None,
    typer.Option("--url", help="another entry point of the same deployment (repeatable)"),
]
ProfileOpt = Annotated[
    str | None, typer.Option(help="target profile: a name in profiles/, or a YAML file")
]
SecretOpt = Annotated[str | None, typer.Option(help="HS256 secret: the probe mints its tokens")]
SecretEnvOpt = Annotated[
    str | None, typer.Option("--secret-env", help="environment variable holding the secret")
]
CommandOpt = Annotated[
    str | None,
    typer.Option("--token-command", help="command printing a token ({workspace}, {user})"),
]
TokensFileOpt = Annotated[
    Path | None, typer.Option("--tokens-file", help="CSV of user,workspace,token rows")
]
ClaimOpt = Annotated[
    list[str] | None, typer.Option("--claim", help="extra claim of minted tokens, k=v")
]
StateOpt = Annotated[
    Path | None,
    typer.Option("--state-file", help="a running bundled cluster's state file (its secret)"),
]
FailOn = Annotated[
    str,
    typer.Option("--fail-on", help="exit 1 on a finding at or above: low, medium, high, critical"),
]


def claims_of(pairs: list[str] | None) -> dict[str, str]:
    from pigeon_lab.errors import ConfigError

    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected k=v, got {pair!r}", field="--claim")
        out[key] = value
    return out


def table(result: ProbeResult) -> Table:
    t = Table(title=f"probe of {result.url} ({result.elapsed_s:.1f} s)", show_lines=False)
    t.add_column("check", no_wrap=True, style="bold")
    t.add_column("outcome", no_wrap=True)
    t.add_column("severity", no_wrap=True)
    t.add_column("summary")
    t.add_column("rule", no_wrap=True, style="dim")
    for r in result.results:
        sev = r.severity.value if r.severity else ""
        t.add_row(
            r.check,
            f"[{STYLE[r.status]}]{r.status}[/]",
            f"[{SEVERITY_STYLE.get(sev, '')}]{sev}[/]" if sev else "-",
            escape(r.summary),
            r.rule,
        )
    return t


def print_result(result: ProbeResult, fail_on: Severity) -> None:
    out = Console()
    out.width = max(out.width, 140)  # a pipe or CI log is 80 wide
    out.print(table(result))
    findings = [r for r in result.results if r.is_finding]
    for r in findings:
        sev = r.severity.value if r.severity else ""
        out.print(f"[bold]{r.check}[/] ({sev}): fix: {escape(r.fix)}", soft_wrap=True)
    c = result.counts()
    gated = sum(r.gates(fail_on) for r in result.results)
    out.print(
        f"{len(result.results)} checks: {c['pass']} passed, {c['finding']} findings "
        f"({gated} at or above {fail_on.value}), {c['unknown']} unknown; "
        f"{result.connections} connections, {result.requests} paced requests"
    )


def probe(
    url: Annotated[str, typer.Argument(help="the deployment's Socket.IO base URL")],
    more: Urls = None,
    profile: ProfileOpt = None,
    secret: SecretOpt = None,
    secret_env: SecretEnvOpt = None,
    token_command: CommandOpt = None,
    tokens_file: TokensFileOpt = None,
    claim: ClaimOpt = None,
    state_file: StateOpt = None,
    family: Annotated[
        list[str] | None, typer.Option("--family", help="run only this family (repeatable)")
    ] = None,
    fail_on: FailOn = "low",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="write the HTML page here")] = None,
    max_connections: Annotated[
        int, typer.Option(min=4, help="connections open at once, at most")
    ] = 16,
    max_rate: Annotated[
        float, typer.Option(min=1, help="requests (HTTP, connects, events) per second")
    ] = 50.0,
    burst: Annotated[
        int, typer.Option(min=10, max=5000, help="events in the one rate-limit burst")
    ] = 500,
    timeout: Annotated[float, typer.Option(min=0.5, help="seconds to wait for an answer")] = 5.0,
) -> None:
    """Probe a running deployment and report findings, each with a severity, evidence,
    the design rule it tests and the fix.

    Families: the Engine.IO handshake (versions, heartbeat, maxPayload), transports
    (websocket, polling, upgrade), stickiness (polling sessions with and without
    cookies), auth (missing, garbage, wrongly signed, alg none and expired tokens; a
    socket outliving its token), acks and limits (timely acks, retry dedupe, an
    oversized message, a rate-limit burst beside a bystander), delivery (cross-node
    fan-out, one seq per channel, acked writes readable, resume after a forced
    disconnect), isolation (two workspaces, one channel name; a spoofed sender), CORS.

    The probe never floods: at most --max-connections connections at once (16) and
    --max-rate requests per second (50) over all of them, plus one burst of at most
    --burst events (500) on one connection to find the rate limit; about 40
    connections and 200 requests in all, in well under a minute. It writes only to
    channels named probe-<run>-* in workspaces pigeon-probe-a and pigeon-probe-b.

    Exit code 0, 1 when a finding is at or above --fail-on, 2 when the deployment is
    unreachable, is not Socket.IO, or refuses the probe's own token.
    """
    from pigeon_lab.advisor.html import write_probe_html
    from pigeon_lab.advisor.probe import run_probe
    from pigeon_lab.advisor.probe.target import TokenOptions, build_target

    threshold = Severity.parse(fail_on)
    tokens = TokenOptions(secret, secret_env, token_command, tokens_file, claims_of(claim),
                          state_file)  # fmt: skip
    target = build_target([url, *(more or [])], profile, tokens)
    limits = ProbeLimits(max_connections, max_rate, burst, timeout)
    if not as_json:
        console.print(f"[cyan]probing[/] {escape(url)} ...")
    result = run_probe(target, limits, family)
    if html is not None:
        write_probe_html(result, html, threshold.value)
        if not as_json:
            console.print(f"HTML: {html}")
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        print_result(result, threshold)
    raise typer.Exit(result.exit_code(threshold))


def register(app: typer.Typer) -> None:
    """Add the ``probe`` command to the top-level app."""
    app.command("probe")(probe)
