"""Run the command line with ``python -m citysmart``."""

from citysmart.cli import main

main()
