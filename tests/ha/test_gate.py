"""The sender gate on a fake clock: open until its deadline, holds commands while closed,
releases them when the same term is confirmed again, refuses them once the term is over."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from liverecd.api.result import ApiResult, TransportError
from liverecd.clock import FakeClock
from liverecd.ha.gate import GateClosedError, SenderGate
from liverecd.streams import Command, StreamKey

NEWS = StreamKey("play.example.com", "live", "news")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Command] = []

    async def send(self, command: Command, stream: StreamKey) -> ApiResult:
        self.sent.append(command)
        return ApiResult(http_status=200)

    async def describe_live_streams_online_list(self, domain: str, **kwargs: object) -> object:
        return "listed"


async def test_a_gate_never_confirmed_sends_nothing_and_refuses_at_the_end() -> None:
    clock, wire = FakeClock(), Recorder()
    gate = SenderGate(clock)
    held = asyncio.create_task(gate.sender(wire.send)(Command.START, NEWS))
    await asyncio.sleep(0)
    assert not held.done() and wire.sent == []
    gate.end()
    result = await held
    assert result.transport_error is TransportError.CONNECT and wire.sent == []


async def test_commands_pass_before_the_deadline_and_wait_after_it() -> None:
    clock, wire = FakeClock(), Recorder()
    gate = SenderGate(clock)
    send = gate.sender(wire.send)
    gate.confirm(clock.monotonic() + 4.5)
    await send(Command.START, NEWS)
    clock.advance(4.5)
    held = asyncio.create_task(send(Command.STOP, NEWS))
    await asyncio.sleep(0)
    assert wire.sent == [Command.START]  # closed at the deadline exactly
    gate.confirm(clock.monotonic() + 4.5)  # renewed under the same epoch: a blip is over
    assert (await held).http_status == 200
    assert wire.sent == [Command.START, Command.STOP]


async def test_the_online_list_is_refused_while_closed() -> None:
    clock, wire = FakeClock(), Recorder()
    gate = SenderGate(clock)
    lister = gate.lister(wire)
    with pytest.raises(GateClosedError):
        await lister.describe_live_streams_online_list("play.example.com")
    gate.confirm(clock.monotonic() + 1)
    assert await lister.describe_live_streams_online_list("play.example.com") == "listed"


async def test_index_reads_wait_for_the_gate_and_are_refused_once_the_term_is_over() -> None:
    clock = FakeClock()
    calls: list[str] = []

    class Client:
        async def call(self, action: str, params: Mapping[str, str]) -> ApiResult:
            calls.append(action)
            return ApiResult(http_status=200, request_id="r")

    gate = SenderGate(clock)
    read = gate.caller(Client())
    held = asyncio.create_task(read.call("DescribeLiveStreamRecordIndexFiles", {}))
    await asyncio.sleep(0)
    assert not held.done() and calls == []  # a standby sends no index read either
    gate.confirm(clock.monotonic() + 1)
    assert (await held).ok and len(calls) == 1
    gate.end()
    refused = await read.call("DescribeLiveStreamRecordIndexFiles", {})
    assert refused.transport_error is TransportError.CONNECT and len(calls) == 1
