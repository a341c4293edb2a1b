"""The ``sync2books-bot`` command: ``run`` (the default), ``check``, ``sandbox`` and ``db upgrade``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.logs import configure_logging
from bot.sealing import new_key
from bot.settings import ConfigError, Settings, StartError, load_settings, variables_help
from sync2books.sandbox.server import PortUnavailableError, serve_sandbox

DEFAULT_SANDBOX_DB = Path("data") / "sandbox.sqlite3"


class UsageError(Exception):
    """A setting or flag that stops the start; its message is one sentence naming it."""


def _port(raw: str, name: str) -> int:
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise UsageError(f"{name} must be a number from 0 to 65535, not {raw!r}.")
    return int(raw)


def _env_port() -> int:
    return _port(os.environ.get("PORT", str(Settings.model_fields["port"].default)), "PORT")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sync2books-bot",
        description="Sync2Books for Slack. `sync2books-bot run --help` lists the settings.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="run the bot (the default): Socket Mode with SLACK_APP_TOKEN, else HTTP mode",
        description="Run the bot until SIGINT or SIGTERM: Socket Mode with SLACK_APP_TOKEN, else HTTP mode.",
        epilog=variables_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands.add_parser("check", help="check the configuration and the connections to Slack and Sync2Books")
    sandbox = commands.add_parser(
        "sandbox", help="run the Sync2Books sandbox alone", description="Run the Sync2Books sandbox alone."
    )
    sandbox.add_argument("--host", help="address to listen on (default: $HOST or 127.0.0.1)")
    sandbox.add_argument("--port", help="port to listen on; 0 picks a free one (default: $PORT or 3000)")
    sandbox.add_argument("--db", type=Path, help=f"SQLite file for its state (default: {DEFAULT_SANDBOX_DB})")
    sandbox.add_argument(
        "--no-fault-injection", action="store_true", help="switch off the /sandbox/* endpoints (they answer 404)"
    )
    commands.add_parser(
        "keygen",
        help="print a new key for TOKEN_ENCRYPTION_KEY",
        description="Print a new Fernet key for TOKEN_ENCRYPTION_KEY. To rotate keys, put the new one first and "
        "keep the old ones after it (comma-separated): what they sealed is still read, and new secrets use the first.",
    )
    database = commands.add_parser("db", help="the bot's database")
    database.add_argument("action", choices=["upgrade"], help="upgrade: apply the migrations")
    return parser


def _run_sandbox(args: argparse.Namespace) -> None:
    host = args.host or os.environ.get("HOST", "127.0.0.1")
    port = _port(args.port, "--port") if args.port is not None else _env_port()
    db_path = args.db or DEFAULT_SANDBOX_DB

    def ready(url: str) -> None:
        print(f"Sync2Books sandbox ready at {url}", flush=True)

    asyncio.run(serve_sandbox(host, port, db_path, fault_injection=not args.no_fault_injection, on_ready=ready))


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Every request would otherwise be a log line; warnings and errors still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # slack_sdk tells each retry at INFO; what finally fails is said by the bot in one sentence.
    logging.getLogger("slack_sdk.web").setLevel(logging.WARNING)
    # A look still running when the next is due is skipped by design (coalescing), not worth a warning.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    # Alembic says at INFO which implementation it uses and each step it runs; `db upgrade` prints the outcome.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if args.command == "sandbox":
            _run_sandbox(args)
            return 0
        if args.command == "keygen":
            print(new_key())
            return 0
        from bot.runner import check, run_bot, upgrade_database

        settings = load_settings()
        configure_logging(settings.log_format)
        if args.command == "check":
            settings.require_slack()
            return 0 if asyncio.run(check(settings, _say)) else 1
        if args.command == "db":
            asyncio.run(upgrade_database(settings, _say))
            return 0
        settings.require_slack()
        asyncio.run(run_bot(settings, on_ready=_say))
    except (UsageError, ConfigError, StartError, PortUnavailableError) as exc:
        print(f"sync2books-bot: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(
            f"sync2books-bot: the database could not be used ({type(exc).__name__}): check DATABASE_URL.",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
