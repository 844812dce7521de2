"""Streams that drop and come back inside their window: the online-list watch (`watch`), the
pure session and arming decisions (`sessions`), the engine's side of it (`link`) and the paged
online list (`lister`)."""
