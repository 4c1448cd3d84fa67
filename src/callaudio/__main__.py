"""``python -m callaudio``: the same as the ``callaudio`` command."""

from .cli import main

raise SystemExit(main())
