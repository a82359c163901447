"""``python tests/mint_token.py WORKSPACE USER``: print a token signed with $PEER_SECRET.

The `token.command` of the external-target tests: a real command run once per user.
"""

from __future__ import annotations

import os
import sys

from pigeon_lab.tokens import mint_token


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: mint_token.py WORKSPACE USER", file=sys.stderr)
        return 2
    secret = os.environ.get("PEER_SECRET")
    if not secret:
        print("PEER_SECRET is not set", file=sys.stderr)
        return 3
    print(mint_token(secret, argv[0], argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
