"""`python -m pigeon_lab.proxy --host 127.0.0.1 --port 8474 [--config proxies.json]`.

Exit codes: 0 after SIGTERM/SIGINT, 2 for a bad config file or a busy port.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pigeon_lab.errors import PigeonLabError
from pigeon_lab.proxy.api import VERSION
from pigeon_lab.proxy.server import DEFAULT_HOST, DEFAULT_PORT, run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pigeon_lab.proxy",
        description="pigeon-lab's fault proxy: a Toxiproxy 2.x compatible server.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="API address (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="API port (default %(default)s)"
    )
    parser.add_argument("--config", type=Path, help="JSON file of proxies to create (as /populate)")
    parser.add_argument("--seed", type=int, help="seed for toxicity, jitter and slicer draws")
    parser.add_argument("--log-level", default="info", help="debug, info, warning (default info)")
    parser.add_argument("--version", action="version", version=VERSION)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        run(args.host, args.port, args.config, args.seed)
    except PigeonLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
