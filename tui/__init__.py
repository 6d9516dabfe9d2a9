"""The Textual TUI: it reads the index and writes only the user's decisions."""
