"""Reads of the index for the CLI and the TUI: nothing here writes."""
