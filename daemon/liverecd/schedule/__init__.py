"""Schedules: the main config, the YAML timetable format, and their expansion into a timeline."""
