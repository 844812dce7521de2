"""Credentials and accounts through the running daemon, against the emulator over HTTP:
STS keys rotating under it lose no window, two accounts' bursts run side by side, and the
expiry of each account's credentials is on /metrics. The daemon, its credential sources and
the emulator (STS tokens, quotas) share a FakeClock the test steps."""

from __future__ import annotations

import textwrap
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from conftest import EmulatorFactory
from liverecd.api.chain import UriProvider
from liverecd.api.credentials import Credentials, Secret
from liverecd.api.credsource import CredentialSource
from liverecd.emulator import Emulator
from liverecd.ops import service
from liverecd.ops.metrics import Metrics
from liverecd.schedule.config import load_config
from liverecd.streams import StreamKey

from .conftest import (
    APP,
    DOMAIN,
    TEST_AK,
    Workspace,
    fake_clock,
    play,
    play_for,
    schedule_text,
    seconds,
)

EXPIRED = "InvalidSecurityToken.Expired"


def covered(emu: Emulator, key: StreamKey, start: datetime, end: datetime) -> float:
    got = 0.0
    for iv in emu.recordings(key):
        a, b = max(iv.start, start), min(iv.end or end, end)
        got += max(0.0, (b - a).total_seconds())
    return got / (end - start).total_seconds()


async def test_rotating_sts_credentials_lose_no_window_and_never_reach_a_log(
    emulator_factory: EmulatorFactory, tmp_path: object
) -> None:
    # 3 s tokens, and an emulator clock 1.5 s ahead: every token is refused as expired for
    # the last half second before the daemon's scheduled refresh, so both paths are exercised
    # (the refresh ahead of expiry, and expired answers refreshed and retried).
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, sts_ttl=3.0, clock_skew=1.5, stop_delay=0.2)
    ws = Workspace(tmp_path, emu, clock)  # type: ignore[arg-type]
    ws.write_config()
    t = clock.wall()
    plan = {
        f"s{i}": [(t + seconds(1.5 + 2.0 * k + 0.3 * i), t + seconds(2.7 + 2.0 * k + 0.3 * i))
                  for k in range(5)]
        for i in range(6)
    }  # fmt: skip
    ws.write_schedule("main.yaml", schedule_text(plan))
    source = CredentialSource(UriProvider(emu.credentials_uri(TEST_AK)), clock)
    await source.start()
    with capture_logs() as logs:
        async with service.running(load_config(ws.config_path), {"default": source}, clock=clock):
            await play(clock, t + seconds(13.5))
    lost = [
        (name, a)
        for name, wins in plan.items()
        for a, b in wins
        if covered(emu, StreamKey(DOMAIN, APP, name), a, b) < 0.75
    ]
    assert lost == []
    expired = [i for i, r in enumerate(emu.requests) if r.code == EXPIRED]
    assert len(expired) >= 3, "the test must see tokens expire"
    for i in expired:  # each expired answer is followed by a retry under a refreshed key
        r = emu.requests[i]
        later = [x for x in emu.requests[i + 1 :] if (x.stream, x.command) == (r.stream, r.command)]
        assert later and later[0].access_key_id != r.access_key_id, r
        assert later[0].code in (None, "TaskAlreadyStarted", "StreamNotFound"), later[0]
    assert source.refreshes >= 4
    text = repr(logs)
    for key in emu.sts.issued_keys():
        assert key.secret not in text and key.token not in text
    assert any(e["event"] == "credentials_refreshed" and e["reason"] == "expired" for e in logs)


A = ("LTAI5tACCOUNTa0000000001", "SecretOfAccountAxxxxxxxxxxxxxxx1")
B = ("LTAI5tACCOUNTb0000000002", "SecretOfAccountBxxxxxxxxxxxxxxx2")


async def test_two_accounts_send_their_bursts_side_by_side_each_at_its_own_quota(
    emulator_factory: EmulatorFactory, tmp_path: object
) -> None:
    # The server allows 12/s: a loop stall on a loaded test machine can bunch two of our sends
    # paced at 10/s into one server second; the strict quota edge is bench/accounts_burst.py.
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, accounts=dict([A, B]), qps=12)
    ws = Workspace(tmp_path, emu, clock)  # type: ignore[arg-type]
    ws.write_config(extra="accounts:\n  partner:\n    credentials_prefix: partner_\n    qps: 10\n")
    text = ws.config_path.read_text().replace("qps: 50", "qps: 10")
    ws.config_path.write_text(text)
    t = clock.wall() + seconds(2)
    window = [(t, t + seconds(6))]
    ws.write_schedule("a.yaml", schedule_text({f"a{i}": window for i in range(20)}))
    ws.write_schedule(
        "b.yaml", schedule_text({f"b{i}": window for i in range(20)}, extra="account: partner\n")
    )
    sources = {
        "default": CredentialSource.fixed(Credentials(A[0], Secret(A[1])), clock),
        "partner": CredentialSource.fixed(Credentials(B[0], Secret(B[1])), clock),
    }
    metrics = Metrics()
    config = load_config(ws.config_path)
    async with service.running(config, sources, clock=clock, observer=metrics):
        await play(clock, t + seconds(3.5))
        exposition = metrics.render().decode()
    starts = [r for r in emu.requests if r.command == "start"]
    by_key = {k: [r for r in starts if r.access_key_id == k] for k in (A[0], B[0])}
    assert {k: len(v) for k, v in by_key.items()} == {A[0]: 20, B[0]: 20}
    assert not [r for r in emu.requests if r.throttled]
    for sent in by_key.values():
        assert all(r.stream is not None and r.stream.stream[0] in "ab" for r in sent)
        assert len({r.stream.stream[0] for r in sent if r.stream}) == 1  # routed by account
        # 20 starts at 10/s: about 2 s each (slack for a loaded machine); one after the
        # other would take 4 s
        assert (max(r.wall for r in sent) - t).total_seconds() < 3.3
    assert emu.max_in_any_second(A[0]) <= 11 and emu.max_in_any_second(B[0]) <= 11
    families = {f.name: f for f in text_string_to_metric_families(exposition)}
    expiry = {
        s.labels["account"]: s.value
        for s in families["liverecd_credentials_expiry_seconds"].samples
    }
    assert expiry == {"default": float("inf"), "partner": float("inf")}


async def test_an_unknown_account_is_an_error_at_its_line_and_the_file_is_not_used(
    workspace: Workspace,
) -> None:
    workspace.write_config(extra="accounts:\n  partner:\n    profile: partner\n")
    bad = workspace.write_schedule(
        "x.yaml",
        textwrap.dedent(
            """\
            domain: play.example.com
            app: live
            streams:
              - name: news
                account: ghost
                windows: []
            """
        ),
    )
    config = load_config(workspace.config_path)
    from liverecd.schedule.loader import load_schedules

    result = load_schedules(config)
    [problem] = result.errors
    assert (problem.file.endswith("x.yaml"), problem.line, problem.col) == (True, 5, 14)
    assert "account: unknown account 'ghost'" in str(problem) and "partner" in str(problem)
    assert str(bad) in result.failed


async def test_the_online_watch_lists_each_domain_with_its_account(
    emulator_factory: EmulatorFactory, tmp_path: object
) -> None:
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, accounts=dict([A, B]))
    ws = Workspace(tmp_path, emu, clock)  # type: ignore[arg-type]
    ws.write_config(watch="1s", extra="accounts:\n  partner:\n    credentials_prefix: p_\n")
    t = clock.wall()
    window = [(t + seconds(0.5), t + seconds(30))]
    ws.write_schedule("a.yaml", schedule_text({"a": window}))
    partner = schedule_text({"b": window}, extra="account: partner\n")
    ws.write_schedule("b.yaml", partner.replace(f"domain: {DOMAIN}", "domain: p.example"))
    sources = {
        "default": CredentialSource.fixed(Credentials(A[0], Secret(A[1])), clock),
        "partner": CredentialSource.fixed(Credentials(B[0], Secret(B[1])), clock),
    }
    async with service.running(load_config(ws.config_path), sources, clock=clock):
        await play_for(clock, 3.0)
    listing = [r for r in emu.requests if r.action == "DescribeLiveStreamsOnlineList"]
    assert {r.access_key_id for r in listing} == {A[0], B[0]}
    assert all(r.code is None for r in listing)


async def test_a_token_the_refresh_cannot_replace_keeps_the_start_queued_until_it_can(
    emulator_factory: EmulatorFactory, tmp_path: object
) -> None:
    clock = fake_clock()
    emu = await emulator_factory(clock=clock, sts_ttl=2.0, stop_delay=0.2)
    ws = Workspace(tmp_path, emu, clock)  # type: ignore[arg-type]
    ws.write_config()
    t = clock.wall()
    window = (t + seconds(3), t + seconds(12))
    ws.write_schedule("main.yaml", schedule_text({"late": [window]}))
    source = CredentialSource(UriProvider(emu.credentials_uri(TEST_AK)), clock)
    await source.start()
    emu.sts.answer_code = "ServiceUnavailable"  # every refresh fails from now on
    with capture_logs() as logs:
        async with service.running(load_config(ws.config_path), {"default": source}, clock=clock):
            await play(clock, t + seconds(6))
            assert not emu.recordings(StreamKey(DOMAIN, APP, "late"))
            emu.sts.answer_code = "Success"  # the source comes back: the start goes through
            await play(clock, t + seconds(9))
    assert covered(emu, StreamKey(DOMAIN, APP, "late"), *window) > 0.2
    assert [r.code for r in emu.requests if r.command == "start"].count(EXPIRED) >= 2
    failed = [e for e in logs if e["event"] == "credentials_refresh_failed"]
    assert failed and {e["log_level"] for e in failed} == {"error"}
    assert {e["source"] for e in failed} == {"credentials_uri"}
    assert not [e for e in logs if e["event"] == "command_dropped"]
