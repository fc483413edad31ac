"""The command line of `fixgw client`: arguments in, a `ClientOptions` with its actions out.

Takes argv (without the program name); gives the connection options and the actions in the
order given (`MarketData`, `PlaceOrder`, `CancelOrder`, `MassStatus`, `Positions`, `CancelAll`).
A bad argument exits with status 2 and one line naming it. No FIX here.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NoReturn

PROGRAM = "fixgw client"
TIME_IN_FORCE = {"day": "0", "gtc": "1", "ioc": "3", "fok": "4"}


class ClientError(Exception):
    """Something the user must fix or know (no connection, logon refused); one line, no traceback."""


# ---------------------------------------------------------------------------------------------
# Command line


@dataclass(frozen=True, slots=True)
class MarketData:
    symbol: str


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    side: str  # Side(54): 1 buy, 2 sell
    symbol: str
    qty: int
    price: str | None  # None: market order


@dataclass(frozen=True, slots=True)
class CancelOrder:
    orig_cl_ord_id: str


@dataclass(frozen=True, slots=True)
class MassStatus:
    pass


@dataclass(frozen=True, slots=True)
class Positions:
    pass


@dataclass(frozen=True, slots=True)
class CancelAll:
    pass


Action = MarketData | PlaceOrder | CancelOrder | MassStatus | Positions | CancelAll


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    host: str
    port: int
    sender: str
    target: str
    password_env: str
    state_dir: Path
    seconds: float
    time_in_force: str  # TimeInForce(59)
    actions: tuple[Action, ...]


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line naming the problem and exit code 2, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROGRAM}: {message} (see --help)\n")


def _parse_qty(text: str) -> int:
    try:
        qty = int(text)
    except ValueError:
        raise argparse.ArgumentError(None, f"quantity {text!r} is not a whole number") from None
    if qty <= 0:
        raise argparse.ArgumentError(None, f"quantity {qty} must be positive")
    return qty


def _parse_price(text: str) -> str:
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentError(None, f"price {text!r} is not a number") from None
    if not price.is_finite() or price <= 0:
        raise argparse.ArgumentError(None, f"price {text} must be a positive number")
    return text


class _AppendAction(argparse.Action):
    """Collects every action option into one list, in command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[object] | None,
        option_string: str | None = None,
    ) -> None:
        items = [str(v) for v in values] if isinstance(values, list) else []
        if isinstance(values, str):
            items = [values]
        action: Action
        try:
            if self.dest == "md":
                action = MarketData(items[0].upper())
            elif self.dest in ("buy", "sell"):
                if len(items) not in (2, 3):
                    raise argparse.ArgumentError(self, "expects SYMBOL QTY [PRICE]")
                price = _parse_price(items[2]) if len(items) == 3 else None
                side = "1" if self.dest == "buy" else "2"
                action = PlaceOrder(side, items[0].upper(), _parse_qty(items[1]), price)
            elif self.dest == "cancel":
                action = CancelOrder(items[0])
            elif self.dest == "status":
                action = MassStatus()
            elif self.dest == "positions":
                action = Positions()
            else:
                action = CancelAll()
        except argparse.ArgumentError as exc:
            parser.error(f"{option_string}: {exc.message}")
        actions = list(getattr(namespace, "actions", None) or [])
        actions.append(action)
        namespace.actions = actions


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog=PROGRAM,
        usage=f"{PROGRAM} [--host H] [--port N] [--sender ID] [--target ID] [--password-env VAR] "
        "[--state-dir DIR] [--seconds S] [--tif day|ioc|fok|gtc] [--md SYMBOL] [--buy SYMBOL QTY [PRICE]] "
        "[--sell SYMBOL QTY [PRICE]] [--cancel CLORDID] [--status] [--positions] [--cancel-all] ...",
        description="Log on to a FIX 4.4 venue (the bundled simulator by default), run the actions "
        "in the order given, print every answer, log out.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="venue host (%(default)s)")
    parser.add_argument("--port", type=int, default=9878, help="venue FIX port (%(default)s)")
    parser.add_argument("--sender", default="CLIENT1", help="our SenderCompID (%(default)s)")
    parser.add_argument("--target", default="FIXSIM", help="the venue's CompID (%(default)s)")
    parser.add_argument(
        "--password-env",
        default="FIXSIM_PASSWORD_CLIENT1",
        metavar="VAR",
        help="environment variable holding the Logon Password(554); unset or empty: none sent "
        "(%(default)s, CLIENT1's in sessions/simulator.cfg; FIXSIM_PASSWORD for FIXGW)",
    )
    parser.add_argument(
        "--state-dir", type=Path, default=Path("var/client"), help="QuickFIX message store (%(default)s)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="after the actions, keep listening (market data, fills) this long",
    )
    parser.add_argument(
        "--tif",
        choices=sorted(TIME_IN_FORCE),
        default="day",
        help="TimeInForce(59) of every order of the run (%(default)s)",
    )
    group = parser.add_argument_group("actions (run in the order given, after logon)")
    group.add_argument(
        "--md", action=_AppendAction, metavar="SYMBOL", help="subscribe to market data, depth 5"
    )
    group.add_argument(
        "--buy",
        action=_AppendAction,
        nargs="+",
        metavar="ARG",
        help="SYMBOL QTY [PRICE]: limit if PRICE else market",
    )
    group.add_argument("--sell", action=_AppendAction, nargs="+", metavar="X", help="SYMBOL QTY [PRICE]")
    group.add_argument(
        "--cancel", action=_AppendAction, metavar="CLORDID", help="cancel an order by its ClOrdID"
    )
    group.add_argument(
        "--status", action=_AppendAction, nargs=0, help="status of every order (35=AF, type 7)"
    )
    group.add_argument("--positions", action=_AppendAction, nargs=0, help="positions (35=AN)")
    group.add_argument(
        "--cancel-all", action=_AppendAction, nargs=0, help="cancel every working order (35=q, type 7)"
    )
    return parser


def parse_options(argv: Sequence[str]) -> ClientOptions:
    args = build_parser().parse_args(list(argv))
    parser_error = build_parser().error
    if not 0 < args.port < 65536:
        parser_error(f"--port {args.port} is not a port between 1 and 65535")
    if args.seconds < 0:
        parser_error(f"--seconds {args.seconds} must not be negative")
    if not args.sender or not args.target:
        parser_error("--sender and --target must not be empty")
    actions = tuple(getattr(args, "actions", None) or ())
    if not actions and args.seconds == 0:
        parser_error("nothing to do: give an action (--md, --buy, --sell, --cancel, --status, --positions, "
                     "--cancel-all) or --seconds")  # fmt: skip
    return ClientOptions(
        host=args.host,
        port=args.port,
        sender=args.sender,
        target=args.target,
        password_env=args.password_env,
        state_dir=args.state_dir,
        seconds=args.seconds,
        time_in_force=TIME_IN_FORCE[args.tif],
        actions=actions,
    )
