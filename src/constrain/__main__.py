"""``python -m constrain``: the same as the ``constrain`` command."""

from .cli import main

raise SystemExit(main())
