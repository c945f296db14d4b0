"""Every picture signlang draws: learning curves and confusion matrices (``plots.py``, matplotlib
without global pyplot state) and skeleton animations of keypoint clips (``skeleton.py``)."""
