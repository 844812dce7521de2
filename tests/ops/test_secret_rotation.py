"""Rotating STS credentials stay redacted without the redaction set growing for ever."""

from __future__ import annotations

from liverecd import redaction
from liverecd.api.credentials import Credentials, Secret
from liverecd.ops import logs


def test_the_newest_credentials_are_redacted_and_long_retired_ones_are_forgotten() -> None:
    made = [
        Credentials(f"STS.key{i}", Secret(f"secret-{i:04}-xyz"), Secret(f"token-{i:04}-xyz"))
        for i in range(40)
    ]
    for creds in made:
        logs.register_credentials(creds)
    newest, oldest = made[-1], made[0]
    event = logs.redact(None, "info", {"event": "x", "note": f"{newest.secret.reveal()} here"})
    assert event["note"] == "*** here"
    assert newest.security_token is not None
    token = newest.security_token.reveal()
    assert redaction.scrub(f"t={token}") == "t=***"
    assert redaction.scrub(oldest.secret.reveal()) == oldest.secret.reveal()  # forgotten
    assert len(logs._ROTATING) == logs._ROTATING_KEEP
