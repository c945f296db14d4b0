"""``python -m signlang.bench``: the training-speed benchmark (``speed.py``)."""

import sys

from signlang.bench.speed import main

sys.exit(main())
