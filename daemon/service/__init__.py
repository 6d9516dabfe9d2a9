"""The daemon: the service loop, the watcher, schedules, power, start lines and progress, sd_notify and the systemd unit."""
