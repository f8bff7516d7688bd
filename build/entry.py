"""The executable's entry point: the ``hypercube`` command."""

import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    # In the frozen executable a spawned ingest worker is this same program started again
    # with multiprocessing's arguments: this runs the worker instead of the command.
    multiprocessing.freeze_support()
    sys.exit(main())
