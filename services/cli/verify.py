"""`valedger verify-shares FILE`: verify a JSON proof batch offline."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.cli.app import app
from services.cli.errors import print_error
from verifier.backends import select_backend
from verifier.batch import MalformedBatch, load_batch
from verifier.config import InvalidVerifierConfig, VerifierConfig
from verifier.cuda import CudaUnavailable
from verifier.verdicts import Verdict

console = Console()

EXIT_REJECTED = 1
"""At least one share was not ACCEPTED."""
EXIT_MALFORMED = 2


def _fail(message: str) -> typer.Exit:
    """Prints the one error line (the message is not markup) and returns the Exit."""
    print_error(message)
    return typer.Exit(code=EXIT_MALFORMED)


@app.command("verify-shares")
def verify_shares(
    file: Annotated[Path, typer.Argument(
        help="Proof batch in the JSON form of docs/DESIGN.md (sample: "
             "docs/samples/proof-batch.json).")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print per-share results as JSON.")
    ] = False,
    backend: Annotated[
        str, typer.Option("--backend", help="auto, cpu or cuda (env VALEDGER_VERIFIER_BACKEND).")
    ] = "",
    coinbase_tag: Annotated[
        str | None,
        typer.Option("--coinbase-tag", help="Hex tag every job's coinbase must carry "
                                            "(default: the batch's own coinbase_tag)."),
    ] = None,
    max_shares: Annotated[
        int | None, typer.Option("--max-shares", help="Largest batch accepted.")
    ] = None,
) -> None:
    """Verify the shares of a proof batch and print a summary (or per-share JSON).

    Exit status: 0 every share ACCEPTED; 1 at least one share has another verdict; 2 the
    file or an option cannot be used."""
    from verifier.verification import verify_batch

    try:
        config = VerifierConfig.from_environment(backend or None, max_shares)
    except InvalidVerifierConfig as exc:
        raise _fail(str(exc)) from None
    tags = None
    if coinbase_tag is not None:
        try:
            tags = [bytes.fromhex(coinbase_tag)]
        except ValueError:
            raise _fail(f"--coinbase-tag is not valid hex: {coinbase_tag!r}") from None
        if not tags[0]:
            raise _fail("--coinbase-tag must not be empty")
    try:
        batch = load_batch(file, max_shares=config.max_shares)
    except MalformedBatch as exc:
        if exc.field == "file":  # absent or unreadable, not malformed
            raise _fail(f"{file}: {exc.reason}") from None
        raise _fail(f"malformed batch {file}: {exc.field}: {exc.reason}") from None
    try:
        chosen = select_backend(config)
    except CudaUnavailable as exc:
        raise _fail(f"cuda backend unavailable: {exc}") from None
    started = time.perf_counter()
    result = verify_batch(batch, coinbase_tags=tags, backend=chosen)
    elapsed = time.perf_counter() - started

    summary: dict[str, Any] = {
        "file": str(file),
        "batch_digest": batch.digest().hex(),
        **result.summary(),
        "seconds": round(elapsed, 6),
    }
    if json_output:
        document = {"summary": summary, "shares": [s.to_json_dict() for s in result.shares()]}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        if summary["counts"][Verdict.ACCEPTED.name] != summary["shares"]:
            raise typer.Exit(EXIT_REJECTED)
        return

    table = Table(title=f"{file.name}: {summary['shares']} shares")
    table.add_column("verdict")
    table.add_column("shares", justify="right")
    for verdict in Verdict:
        count = summary["counts"][verdict.name]
        style = "green" if verdict is Verdict.ACCEPTED else ("red" if count else "dim")
        table.add_row(f"[{style}]{verdict.name}[/{style}]", str(count))
    console.print(table)
    console.print(f"accepted work    {result.accepted_work} hashes "
                  f"({result.accepted_work:.4e})")
    console.print(f"block candidates {summary['block_candidates']}")
    ntime = result.ntime_range
    console.print(f"ntime range      {f'{ntime[0]}..{ntime[1]}' if ntime else '-'}")
    console.print(f"batch digest     {summary['batch_digest']}", soft_wrap=True)
    console.print(f"backend          {chosen.describe()}", soft_wrap=True)
    rate = summary["shares"] / elapsed if elapsed > 0 else 0.0
    console.print(f"verified in      {elapsed:.3f} s ({rate:,.0f} shares/s)")
    if summary["counts"][Verdict.ACCEPTED.name] != summary["shares"]:
        raise typer.Exit(EXIT_REJECTED)
