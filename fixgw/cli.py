"""fixgw command line: parses the sub-command, then hands over to the part that owns it.

Each sub-command's module is imported only when it runs, so `fixgw sim` does not pay for numba
and onnxruntime, and a broken optional part cannot stop the others from starting.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# sub-command -> (module, one-line help). The module exposes `main(argv: list[str]) -> int`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("simulator.cli", "run the bundled FIX 4.4 exchange simulator"),
    "run": ("gateway.app", "run the gateway against the venues in a TOML config"),
    "demo": ("fixgw.demo", "simulator + gateway + bundled model, end to end"),
    "features": ("gateway.features.cli", "build or export features from recorded ticks"),
    "model": ("gateway.inference.cli", "train, list, activate or roll back models"),
    "client": ("simulator.client", "a FIX 4.4 client to try the simulator by hand"),
}


def _usage() -> str:
    lines = ["usage: fixgw <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    lines += ["", "Run `fixgw <command> --help` for the options of a command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    command, rest = args[0], args[1:]
    if command not in SUBCOMMANDS:
        print(f"fixgw: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[command][0])
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
