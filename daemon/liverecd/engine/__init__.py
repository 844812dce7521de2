"""The engine: dispatcher, APScheduler glue, reconcile, reload, state."""
