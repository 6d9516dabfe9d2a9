"""The photo library on disk: walking folders, which names are photos, what changed since the
index last looked, and running the jobs of a scan (and the daemon's) through the worker pool."""
