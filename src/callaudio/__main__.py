"""``python -m callaudio``: the same as the ``callaudio`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
