"""Detectors that read the pixels as a picture: nudity, scenes, objects and logos."""
