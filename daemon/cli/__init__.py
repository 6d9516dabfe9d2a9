"""The ``shadowlens`` command line. Data goes to stdout, messages to stderr."""
