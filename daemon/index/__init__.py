"""The index: schema, the single writer, and the read API used by the CLI and the TUI."""
