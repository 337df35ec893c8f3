"""`python -m services.cli`: the same command line as the `valedger` script."""

from services.cli import main

main()
