"""The command line: `python -m cgraph cache info|list|clear`."""

from __future__ import annotations

import argparse
import sys
import time

from cgraph import backend
from cgraph.tensor import oplist


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def cache_command(action: str) -> int:
    """Run one `cache` action, printing to stdout; returns the exit status."""
    if action == "info":
        info = backend.cache_info()
        print(f"cache directory: {info['path']}")
        print(f"entries:         {info['n_entries']}")
        print(f"size:            {_size(info['total_bytes'])}")
    elif action == "list":
        for entry in backend.cache_list():
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["created"]))
            print(f"{entry['key']}  {created}  {_size(entry['size']):>10}  {entry['path']}")
    elif action == "clear":
        removed = backend.cache_clear()
        print(f"removed {removed} entr{'y' if removed == 1 else 'ies'} from {backend.cache_dir()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cgraph",
                                     description="cgraph's command line tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    cache = commands.add_parser("cache", help="inspect or clear the compiled-module cache")
    cache.add_argument("action", choices=("info", "list", "clear"))
    ops = commands.add_parser("ops", help="list cgraph.tensor's operations (markdown)")
    ops.add_argument("--readme", metavar="PATH", help="rewrite the list in this README")
    args = parser.parse_args(argv)
    if args.command == "ops":
        if args.readme:
            changed = oplist.update_readme(args.readme)
            print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
        else:
            print(oplist.op_list(), end="")
        return 0
    return cache_command(args.action)


if __name__ == "__main__":
    sys.exit(main())
