"""``python -m signlang``: the ``signlang`` command."""

import sys

from signlang.commands.cli import main

sys.exit(main())
