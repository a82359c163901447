"""``python -m pigeon_lab.load --config FILE.json`` (or ``--worker --master-port P``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pigeon_lab.load")
    parser.add_argument("--config", type=Path, help="LoadConfig as JSON")
    parser.add_argument("--worker", action="store_true", help="run as a worker of a master")
    parser.add_argument("--master-host", default="127.0.0.1")
    parser.add_argument("--master-port", type=int, default=5557)
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        help="a module that registers a workload (worker; repeatable)",
    )
    args = parser.parse_args(argv)
    if not args.worker and args.config is None:
        parser.error("--config is required (or --worker)")
    # Locust (and gevent's monkey-patching) only from here on.
    from pigeon_lab.errors import PigeonLabError
    from pigeon_lab.load import process
    from pigeon_lab.load.config import LoadConfig

    try:
        if args.worker:
            process.run_worker(args.master_host, args.master_port, tuple(args.imports))
        else:
            process.run_main(LoadConfig.from_json(args.config.read_text()))
    except PigeonLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
