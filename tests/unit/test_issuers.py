"""Token issuers: a secret with a claims template, a command, a tokens file; each failure
says which issuer and which user."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jwt
import pytest

from pigeon_lab.issuers import (
    CachingIssuer,
    CommandIssuer,
    FileIssuer,
    IssuedToken,
    IssuerSpec,
    SecretIssuer,
    TokenError,
    expiry,
)


def test_a_secret_issuer_puts_user_and_workspace_in_the_profiles_claims() -> None:
    issuer = SecretIssuer(
        "k" * 32, "uid", "tenant", {"role": "member", "org": "{{ workspace }}"}, 60
    )
    token = issuer.issue("acme", "alice")
    claims = jwt.decode(token.value, "k" * 32, algorithms=["HS256"])
    assert claims["uid"] == "alice" and claims["tenant"] == "acme"
    assert claims["role"] == "member" and claims["org"] == "acme"
    assert token.exp == claims["exp"] and abs(token.exp - time.time() - 60) < 5


def test_a_command_issuer_runs_the_command_with_the_user_filled_in(tmp_path: Path) -> None:
    script = tmp_path / "mint.py"
    script.write_text("import os, sys\nprint(f'tok-{sys.argv[1]}-{os.environ[\"PIGEON_USER\"]}')\n")
    issuer = CommandIssuer(f"{sys.executable} {script} {{workspace}}")
    assert issuer.issue("acme", "bob") == IssuedToken("tok-acme-bob", None)


@pytest.mark.parametrize(
    "body,expect",
    [
        (
            "import sys; sys.stderr.write('no such user'); sys.exit(4)",
            "exited with 4: no such user",
        ),
        ("pass", "printed nothing"),
        ("import time; time.sleep(5)", "no token within 0.5 s"),
    ],
)
def test_a_failing_command_says_why(tmp_path: Path, body: str, expect: str) -> None:
    script = tmp_path / "mint.py"
    script.write_text(body)
    with pytest.raises(TokenError, match=rf"token.command for acme/bob: {expect}"):
        CommandIssuer(f"{sys.executable} {script}", timeout_s=0.5).issue("acme", "bob")
    with pytest.raises(TokenError, match="no such command"):
        CommandIssuer("no-such-binary-here {user}").issue("acme", "bob")


def test_a_tokens_file_gives_each_users_row(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text("user,workspace,token\nalice,acme,T1\n# a comment\nbob,acme,T2\n")
    issuer = FileIssuer(path)
    assert issuer.issue("acme", "bob").value == "T2" and not issuer.can_mint
    with pytest.raises(TokenError, match="no token for user 'carol' in workspace 'acme'"):
        issuer.issue("acme", "carol")
    path.write_text("alice,acme\n")
    with pytest.raises(TokenError, match="line 1: expected 'user,workspace,token'"):
        FileIssuer(path)


def test_the_cache_reuses_a_fresh_token_and_replaces_a_stale_one() -> None:
    fresh = CachingIssuer(SecretIssuer("k" * 32, ttl_s=3600))
    assert fresh.issue("w", "u") is fresh.issue("w", "u")
    stale = CachingIssuer(SecretIssuer("k" * 32, ttl_s=5))  # inside the refresh margin
    first = stale.issue("w", "u")
    assert stale.issue("w", "u") is not first
    assert expiry(first.value) == first.exp and expiry("not-a-jwt") is None


def test_the_spec_never_holds_the_secret_and_says_where_to_put_it() -> None:
    spec = IssuerSpec()
    assert set(spec.model_dump()) >= {"kind", "secret_env"} and "secret" not in spec.model_dump()
    with pytest.raises(TokenError, match="export PIGEON_LAB_TOKEN_SECRET"):
        spec.build({})
    issuer = spec.build({"PIGEON_LAB_TOKEN_SECRET": "k" * 32})
    assert isinstance(issuer, SecretIssuer)
