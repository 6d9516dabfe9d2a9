"""Safe copies of photos: faces pixelated, personal data redacted, metadata dropped, verified."""

from shadowlens.daemon.scrub.runner import Scrubber, ScrubOptions, ScrubReport

__all__ = ["ScrubOptions", "ScrubReport", "Scrubber"]
