"""liverecd: turns YAML recording timetables into ApsaraVideo Live RealTimeRecordCommand calls."""

__version__ = "0.1.0"
