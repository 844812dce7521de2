"""The bundled Live API emulator (DESIGN.md §7): signatures, timestamps, nonces, per-key flow
control, the per-stream recording state machine, seeded faults, ingest callbacks, and a recorder
of every request and every recording interval."""

from liverecd.emulator.config import (
    CallbackRecord,
    EmulatorConfig,
    FaultPlan,
    RecordingInterval,
    RequestRecord,
    StreamState,
)
from liverecd.emulator.server import Emulator

__all__ = [
    "CallbackRecord",
    "Emulator",
    "EmulatorConfig",
    "FaultPlan",
    "RecordingInterval",
    "RequestRecord",
    "StreamState",
]
