"""`pigeon-lab review`: an architecture against the design rules, from a design file, a
live deployment, or both, each rule tied to the run that proves it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pigeon_lab.advisor.findings import ProbeResult, Severity
from pigeon_lab.cli.probe_cmd import (
    ClaimOpt,
    CommandOpt,
    FailOn,
    ProfileOpt,
    SecretEnvOpt,
    SecretOpt,
    StateOpt,
    TokensFileOpt,
    claims_of,
)

if TYPE_CHECKING:  # the advisor's models load only when the command runs
    from pigeon_lab.advisor.design import Design
    from pigeon_lab.advisor.review import ProofResult, Review
    from pigeon_lab.advisor.rules import Rule

console = Console(stderr=True)
STYLE = {"pass": "green", "fail": "red", "unknown": "yellow"}


def _table(rv: Review) -> Table:
    t = Table(title=f"review of {rv.design or rv.probe_url}")
    t.add_column("rule", no_wrap=True, style="bold")
    t.add_column("outcome", no_wrap=True)
    t.add_column("severity", no_wrap=True)
    t.add_column("why")
    t.add_column("proof", style="dim")
    for r in rv.rules:
        t.add_row(r.id, f"[{STYLE[r.outcome]}]{r.outcome}[/]", r.severity.value,
                  escape(r.reason), ", ".join(r.proofs) or "-")  # fmt: skip
    return t


def _catalogue() -> Table:
    from pigeon_lab.advisor.rules import RULES

    t = Table(title=f"design rules ({len(RULES)})", show_lines=True)
    t.add_column("rule", style="bold")
    t.add_column("claim")
    t.add_column("checked by")
    for r in RULES.values():
        t.add_row(f"{r.id}\n[dim]{r.severity.value}[/]", escape(r.claim), escape(r.how_checked()))
    return t


def _load_probe(path: Path) -> ProbeResult:
    from pigeon_lab.errors import ConfigError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the probe result: {exc}", source=str(path)) from exc
    return ProbeResult.from_dict(data, source=str(path))


def review(
    design: Annotated[
        str | None,
        typer.Argument(help="a design file (YAML), or a name in designs/ (e.g. reference)"),
    ] = None,
    url: Annotated[
        list[str] | None,
        typer.Option("--url", help="probe this live deployment too (repeatable: entry points)"),
    ] = None,
    probe_json: Annotated[
        Path | None, typer.Option("--probe-json", help="a saved `probe --json` result")
    ] = None,
    profile: ProfileOpt = None,
    secret: SecretOpt = None,
    secret_env: SecretEnvOpt = None,
    token_command: CommandOpt = None,
    tokens_file: TokensFileOpt = None,
    claim: ClaimOpt = None,
    state_file: StateOpt = None,
    prove: Annotated[
        bool,
        typer.Option(
            "--prove",
            help="run the rules' proofs on the bundled cluster configured "
            "like the design and attach their verdicts",
        ),
    ] = False,
    proof: Annotated[
        list[str] | None,
        typer.Option(
            "--proof",
            help="with --prove: only this proof (repeatable), e.g. "
            "redis-failover or selftest:no-dedupe",
        ),
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="judge only this rule (repeatable)")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="folder for review.json, review.html and the proofs' runs "
            "[default: reports/review-<stamp>-<design>]",
        ),
    ] = None,
    fail_on: FailOn = "low",
    strict: Annotated[bool, typer.Option(help="an unknown rule fails too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the review as JSON")] = False,
    list_rules: Annotated[
        bool, typer.Option("--list", help="list the design rules and exit")
    ] = False,
) -> None:
    """Review an architecture: every design rule judged from a DESIGN file, a live
    deployment (--url: the probe's findings, or --probe-json), or both.

    Each rule states its claim, how it is checked (design fields, probe checks) and the
    catalogue scenario, selftest case or probe check that demonstrates the failure on
    the bundled cluster; --prove runs those on the bundled cluster configured like the
    design (durability, stickiness, the mistakes the reference backend reproduces as
    flaws) and attaches their verdicts. Writes review.json and review.html into --out.

    Exit code 0, 1 when a rule at or above --fail-on fails (or is unknown, with
    --strict), 2 for a malformed design file, an unreachable URL or a usage error.
    """
    from pigeon_lab.advisor.design import load_design
    from pigeon_lab.advisor.html import write_probe_html, write_review_html
    from pigeon_lab.advisor.review import review as judge
    from pigeon_lab.advisor.review import select_rules
    from pigeon_lab.errors import ConfigError

    if list_rules:
        out_console = Console()
        out_console.width = max(out_console.width, 140)
        out_console.print(_catalogue())
        return
    threshold = Severity.parse(fail_on)
    if design is None and not url and probe_json is None:
        raise ConfigError("give a design file, --url to probe, or --probe-json", field="DESIGN")
    if prove and design is None:
        raise ConfigError("--prove configures the bundled cluster like a design: give one",
                          field="--prove")  # fmt: skip
    rules = select_rules(rule)
    model = load_design(design) if design is not None else None
    name = model.name if model else "deployment"
    folder = out or Path("reports") / f"review-{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    found = _load_probe(probe_json) if probe_json is not None else None
    if url:
        found = _probe(url, profile, secret, secret_env, token_command, tokens_file, claim,
                       state_file, folder)  # fmt: skip
    proofs: list[ProofResult] = []
    notes: list[str] = []
    if prove and model is not None:
        proofs, notes = _prove(model, rules, folder, proof, quiet=as_json)
    rv = judge(model, found, rules=[r.id for r in rules], proofs=proofs, notes=notes)
    (folder / "review.json").write_text(json.dumps(rv.to_dict(), indent=2), encoding="utf-8")
    write_review_html(rv, folder / "review.html", threshold.value)
    if found is not None and url:
        write_probe_html(found, folder / "probe.html", threshold.value)
    if as_json:
        typer.echo(json.dumps(rv.to_dict(), indent=2))
    else:
        out_console = Console()
        out_console.width = max(out_console.width, 140)
        out_console.print(_table(rv))
        c = rv.counts()
        out_console.print(f"{len(rv.rules)} rules: {c['pass']} passed, {c['fail']} failed, "
                          f"{c['unknown']} unknown; {folder / 'review.html'}")  # fmt: skip
        for note in notes:
            out_console.print(f"[yellow]note:[/] {escape(note)}")
    raise typer.Exit(rv.exit_code(threshold, strict))


def _probe(
    url: list[str],
    profile: str | None,
    secret: str | None,
    secret_env: str | None,
    token_command: str | None,
    tokens_file: Path | None,
    claim: list[str] | None,
    state_file: Path | None,
    folder: Path,
) -> ProbeResult:
    from pigeon_lab.advisor.probe import run_probe
    from pigeon_lab.advisor.probe.target import TokenOptions, build_target

    tokens = TokenOptions(secret, secret_env, token_command, tokens_file, claims_of(claim),
                          state_file)  # fmt: skip
    console.print(f"[cyan]probing[/] {escape(url[0])} ...")
    result = run_probe(build_target(url, profile, tokens))
    (folder / "probe.json").write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    return result


def _prove(
    model: Design, rules: list[Rule], folder: Path, only: list[str] | None, quiet: bool
) -> tuple[list[ProofResult], list[str]]:
    from pigeon_lab.advisor.prove import run_proofs
    from pigeon_lab.cli.run_view import RichRunView, progress_bar

    def said(p: ProofResult) -> None:
        if not quiet:
            mark = {"fail": "[red]failed[/]", "pass": "[green]held[/]"}.get(
                p.outcome, "[yellow]unknown[/]"
            )
            console.print(f"proof {p.key}: {mark}: {escape(p.summary)}")

    with progress_bar(console) as progress:
        return run_proofs(model, rules, out=folder, only=only,
                          listeners=[RichRunView(progress)], on_proof=said)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``review`` command to the top-level app."""
    app.command("review")(review)
