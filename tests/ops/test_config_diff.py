"""The main-config diff rule (ops.config_reload) as a property: every changed key (max_lead,
watch and verify included) is either applied or named as needing a restart, and the config kept
running takes exactly the applied ones from the new file."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from liverecd.config import (
    AccountConfig,
    ApiConfig,
    Config,
    ListenAddress,
    LogConfig,
    VerifyConfig,
    WatchConfig,
)
from liverecd.ops.config_reload import _flat, diff_config

seconds = st.integers(1, 120).map(lambda s: timedelta(seconds=s))
addresses = st.sampled_from([None, ListenAddress("127.0.0.1", 8081)])


@st.composite
def configs(draw: st.DrawFn) -> Config:
    api = ApiConfig(
        qps=draw(st.sampled_from([10.0, 50.0])),
        timeout=draw(seconds),
        region=draw(st.sampled_from(["cn-shanghai", "cn-beijing"])),
    )
    accounts = tuple(
        AccountConfig(name, replace(api, qps=draw(st.sampled_from([5.0, 20.0]))),
                      profile=draw(st.sampled_from(["p", "q"])))
        for name in draw(st.sets(st.sampled_from(["x", "y"])))
    )  # fmt: skip
    return Config(
        path=Path("/etc/liverecd/liverecd.yaml"),
        api=api,
        schedules=draw(st.sampled_from([("a/*.yaml",), ("b/*.yaml",)])),
        state_dir=Path(draw(st.sampled_from(["/var/lib/a", "/var/lib/b"]))),
        max_lead=draw(seconds),
        horizon=timedelta(hours=draw(st.integers(1, 3))),
        missing_file_grace=draw(st.sampled_from([timedelta(seconds=5), timedelta(seconds=30)])),
        log=LogConfig(level=draw(st.sampled_from(["info", "debug"]))),
        watch=WatchConfig(
            interval=draw(st.sampled_from([timedelta(0), timedelta(seconds=10)])),
            callback_listen=draw(addresses),
        ),
        verify=VerifyConfig(
            enabled=draw(st.booleans()),
            grace=draw(seconds),
            confirm=draw(seconds),
            min_coverage=draw(st.sampled_from([0.9, 0.98])),
            qps=draw(st.sampled_from([5.0, 15.0])),
            callback_listen=draw(addresses),
            callback_host=draw(st.sampled_from([None, "rec.example.com"])),
        ),
        accounts=accounts,
    )


@given(configs(), configs())
def test_every_change_is_applied_or_named_and_restart_keys_keep_running_values(
    old: Config, new: Config
) -> None:
    change = diff_config(old, new)
    before, after, kept = _flat(old), _flat(new), _flat(change.config)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert set(change.applied) | set(change.restart_needed) == changed
    assert not set(change.applied) & set(change.restart_needed)
    for key in change.applied:
        assert kept.get(key) == after.get(key), key
    for key in change.restart_needed:
        assert kept.get(key) == before.get(key), key
    assert change.config.status.listen == old.status.listen == ListenAddress("127.0.0.1", 9325)
    # what binds a socket or decides what runs at all is never taken in place
    assert change.config.watch.callback_listen == old.watch.callback_listen
    assert change.config.verify.callback_listen == old.verify.callback_listen
    assert change.config.verify.enabled == old.verify.enabled


def test_every_key_of_the_main_config_is_compared_on_reload() -> None:
    """A key the diff does not look at would change neither in place nor at a restart warning
    (missing_file_grace was such a key)."""
    flat = _flat(Config(path=Path("/etc/liverecd/liverecd.yaml")))
    not_keys = {"path", "source", "schedule_sources", "accounts"}  # where, not what
    for f in fields(Config):
        if f.name not in not_keys:
            assert any(k == f.name or k.startswith(f.name + ".") for k in flat), f.name
