"""Analysis workers on other machines: a Dask scheduler on the daemon's machine, helper machines
that join it, and the mutual TLS between them (a private CA, one-time enrolment tokens)."""
