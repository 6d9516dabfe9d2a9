"""Alerts on risky new photos: batching, desktop notifications over D-Bus, and a hook command."""
