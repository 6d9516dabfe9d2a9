"""The photo library on disk: walking folders, which file names are photos, planning a scan."""
