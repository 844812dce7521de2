"""Running as a service: lifecycle, logs, systemd notify, status and metrics, the demo."""
