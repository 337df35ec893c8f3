"""Entry point of the `valedger` console script."""

from __future__ import annotations

import sys

from services.cli import alerts as _alerts  # noqa: F401  (registers commands)
from services.cli import audit as _audit  # noqa: F401  (registers commands)
from services.cli import bench as _bench  # noqa: F401  (registers commands)
from services.cli import ca as _ca  # noqa: F401  (registers commands)
from services.cli import db as _db  # noqa: F401  (registers commands)
from services.cli import demo as _demo  # noqa: F401  (registers commands)
from services.cli import monitor as _monitor  # noqa: F401  (registers commands)
from services.cli import report as _report  # noqa: F401  (registers commands)
from services.cli import serve as _serve  # noqa: F401  (registers commands)
from services.cli import verify as _verify  # noqa: F401  (registers commands)
from services.cli import witness as _witness  # noqa: F401  (registers commands)
from services.cli.app import app
from services.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, exit_with, print_error, run, stderr


def invoke(args: list[str] | None = None) -> int:
    """Returns the exit status of the command line ``args`` (default: sys.argv)."""
    import typer
    from typer import _click
    from typer.exceptions import Abort

    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="valedger", standalone_mode=False)
    except _click.exceptions.NoArgsIsHelpError:
        return EXIT_USAGE  # the help was printed
    except _click.exceptions.ClickException as exc:
        hint = ""
        if isinstance(exc, _click.exceptions.UsageError) and exc.ctx is not None:
            hint = f" (see `{exc.ctx.command_path} --help`)"
        print_error(exc.format_message() + hint)
        return exc.exit_code
    except Abort:
        stderr.print("interrupted")
        return EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        stderr.print("interrupted")
    return code if isinstance(code, int) else 0


def main() -> None:
    """Runs the `valedger` command line and exits with its status."""
    exit_with(run(lambda: invoke(sys.argv[1:])))


__all__ = ["app", "invoke", "main"]
