"""From raw videos to training data: ``signlang extract`` (keypoints, features, occlusion flags)."""
