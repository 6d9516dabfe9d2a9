"""Analysing one photo: decoding, metadata parsing, the detector pipeline, plugin discovery,
the typed findings and results, and the crash-isolating worker pool."""
