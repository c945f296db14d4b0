"""``python -m signlang.bench``: the training-speed benchmark (``speed.py``); ``--live``: the live
camera path (``live.py``)."""

import sys

if "--live" in sys.argv[1:]:
    from signlang.bench.live import main

    sys.exit(main([a for a in sys.argv[1:] if a != "--live"]))

from signlang.bench.speed import main

sys.exit(main())
