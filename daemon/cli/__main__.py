"""`python -m shadowlens.daemon.cli`, used by the systemd unit when no console script exists."""

from shadowlens.daemon.cli.main import main

main()
