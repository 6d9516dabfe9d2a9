"""shadowlens engine: scanning, detectors, the index and (later) the watch daemon.

Nothing in this package imports the TUI; a test enforces it.
"""

__version__ = "0.1.0"
