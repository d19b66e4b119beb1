"""``python -m hvconsole`` is the same as the ``hvconsole`` command."""

from hvconsole.cli import main

raise SystemExit(main())
