"""The built-in detectors, each registered through the shadowlens.detectors entry point as a
third-party one would be: metadata, place, faces/, text/, codes/ and vision/."""
