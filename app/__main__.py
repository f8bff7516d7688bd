import sys

from app.cli import main

# Guarded: worker processes (``ingest --workers``) are spawned, and a spawned process imports
# the parent's main module again, where it must not run the command a second time.
if __name__ == "__main__":
    sys.exit(main())
