"""The daemon: the service loop, the watcher, the dispatcher, schedules, control and the systemd unit."""
