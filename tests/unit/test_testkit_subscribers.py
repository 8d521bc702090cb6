"""The test kit's subscribers against a scripted WebSocket server on loopback: frames recorded and
decoded, pings answered, an abnormal close reported, a stalled socket read at last."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from testkit.subscribers import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Subscriber,
    follow_websocket,
    parse_frames,
    read_text_frames,
)
from testkit.waits import until_on_loop


def server_frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked server frame, with a 16-bit length where needed."""
    if len(payload) < 126:
        return bytes([0x80 | opcode, len(payload)]) + payload
    return bytes([0x80 | opcode, 126]) + struct.pack(">H", len(payload)) + payload


def board(version: int, kind: str = "update") -> bytes:
    return json.dumps({"type": kind, "board": "global", "version": version,
                       "entries": [{"rank": 1, "user_id": "ana", "score": version * 10}]}).encode()


@asynccontextmanager
async def scripted_server(frames: Sequence[bytes], pongs: list[bytes]) -> AsyncIterator[str]:
    """Accepts one upgrade, sends ``frames``, and records the payloads of the client's pongs."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        for frame in frames:
            writer.write(frame)
        await writer.drain()
        pinged = any(frame[0] & 0x0F == OP_PING for frame in frames)
        try:
            # the pong of a ping comes in a loop turn or two; no ping: no pong to wait for, hang up at once
            head = await asyncio.wait_for(reader.readexactly(2), 30 if pinged else 0)
            if head[0] & 0x0F == OP_PONG:
                length = head[1] & 0x7F
                mask, body = await reader.readexactly(4), await reader.readexactly(length)
                pongs.append(bytes(b ^ mask[i % 4] for i, b in enumerate(body)))
        except (TimeoutError, asyncio.IncompleteReadError):
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"ws://127.0.0.1:{port}/v1/leaderboards/global/ws"


async def follow(frames: Sequence[bytes], pongs: list[bytes]) -> Subscriber:
    subscriber = Subscriber("s")
    async with scripted_server(frames, pongs) as url:
        await asyncio.wait_for(follow_websocket(url, subscriber, open_timeout_s=5), 5)
    return subscriber


def test_a_websocket_subscriber_decodes_board_frames_skips_others_and_answers_pings() -> None:
    """Snapshot and update frames become ``Received`` in order, a heartbeat is skipped, the ping's
    payload comes back in a pong, and a normal close is no error."""
    pongs: list[bytes] = []
    frames = [server_frame(OP_TEXT, board(1, "snapshot")), server_frame(OP_TEXT, b'{"type": "heartbeat"}'),
              server_frame(OP_TEXT, board(2) + b" " * 200), server_frame(OP_PING, b"are-you-there"),
              server_frame(OP_CLOSE, struct.pack(">H", 1000))]
    subscriber = asyncio.run(follow(frames, pongs))

    assert subscriber.error is None
    assert subscriber.got_snapshot.is_set()
    assert [(f.kind, f.version) for f in subscriber.frames] == [("snapshot", 1), ("update", 2)]
    assert subscriber.frames[1].entries == ((1, "ana", 20),)
    assert subscriber.first_with("ana") is subscriber.frames[0]
    assert pongs == [b"are-you-there"]


def test_a_websocket_closed_abnormally_is_the_subscribers_error() -> None:
    """A close frame with 1011 (or none at all) ends the subscription with an error."""
    closed = asyncio.run(follow([server_frame(OP_TEXT, board(1)), server_frame(OP_CLOSE, struct.pack(">H", 1011))], []))
    dropped = asyncio.run(follow([server_frame(OP_TEXT, board(1))], []))

    assert "1011" in str(closed.error)
    assert isinstance(dropped.error, ConnectionError)
    assert closed.versions == dropped.versions == [1]


def test_a_raw_socket_is_read_at_last_until_the_condition_holds() -> None:
    """Frames split across reads are joined; the reading stops once the condition holds."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        stream = b"".join(server_frame(OP_TEXT, board(v)) for v in range(1, 4))
        theirs.sendall(stream[:7])
        theirs.sendall(stream[7:])
        frames = read_text_frames(ours, 5.0, until=lambda got: bool(got) and got[-1]["version"] == 3)
    assert [f["version"] for f in frames] == [1, 2, 3]


def test_frames_are_cut_from_a_stream_with_a_64_bit_length() -> None:
    """The 127 length form is read too, and an incomplete header stays in the buffer."""
    payload = b"y" * 70_000
    buffer = bytearray(bytes([0x81, 127]) + struct.pack(">Q", len(payload)) + payload + b"\x81")
    assert parse_frames(buffer) == [(OP_TEXT, payload)]
    assert buffer == bytearray(b"\x81")


def test_a_stamped_reader_records_each_frame_with_the_kernels_arrival_time_and_its_own_read_time() -> None:
    """Frames in order with the kernel's receive stamp (never after this process read them), the
    ping answered, the close code kept; a frame sent with the 101 answer is not lost."""
    from testkit.stamped_reader import open_stamped_reader

    pongs: list[bytes] = []
    frames = [server_frame(OP_TEXT, board(1, "snapshot")), server_frame(OP_TEXT, board(2) + b" " * 200),
              server_frame(OP_PING, b"still-there"), server_frame(OP_TEXT, board(3)),
              server_frame(OP_CLOSE, struct.pack(">H", 1000))]

    async def scenario() -> tuple[list[int], list[tuple[float, float]], int | None, bool]:
        async with scripted_server(frames, pongs) as url:
            reader = await open_stamped_reader(url, timeout_s=5)
            await until_on_loop(lambda: reader.closed and pongs, what="the close frame read and the pong answered")
            reader.close()
        versions = [json.loads(text)["version"] for _, text in reader.texts]
        return versions, [(at, read) for (at, _), read in zip(reader.texts, reader.reads, strict=True)], \
            reader.close_code, reader.closed

    versions, stamps, code, closed = asyncio.run(scenario())
    assert versions == [1, 2, 3]
    assert all(0 < at <= read for at, read in stamps)
    assert code == 1000 and closed
    assert pongs == [b"still-there"]


def test_the_websocket_readers_fast_path_takes_whole_frames_and_leaves_the_rest_to_the_buffer() -> None:
    """One whole text frame per read (7- and 16-bit lengths) is recorded as it is; a split frame,
    two frames in one read and a ping go through the buffer, in order."""
    from testkit.subscribers import WebSocketReader

    reader = WebSocketReader("h", "/p")
    reader._upgraded = True
    long_text = b"x" * 300
    reader.data_received(server_frame(OP_TEXT, b"a"))
    reader.data_received(server_frame(OP_TEXT, long_text))
    split = server_frame(OP_TEXT, b"bc")
    reader.data_received(split[:3])
    reader.data_received(split[3:] + server_frame(OP_TEXT, b"d"))
    assert [text for _, text in reader.texts] == [b"a", long_text, b"bc", b"d"]


def test_a_stamped_reader_takes_whole_frames_directly_and_split_joined_or_long_ones_through_its_buffer() -> None:
    """However the reads fall (one whole frame, a split one, two in one read, a 64-bit length), every
    text frame is recorded once, in order, with a stamp no later than its read; a ping is answered."""
    from testkit.stamped_reader import StampedReader

    long_text = b"y" * 70_000
    split = server_frame(OP_TEXT, b"bc")
    sends = [server_frame(OP_TEXT, b"a"), server_frame(OP_TEXT, b"x" * 300), split[:3],
             split[3:] + server_frame(OP_TEXT, b"d"), server_frame(OP_PING, b"here"),
             bytes([0x81, 127]) + struct.pack(">Q", len(long_text)) + long_text]
    expected = [b"a", b"x" * 300, b"bc", b"d", long_text]

    async def scenario() -> tuple[list[bytes], bool, bytes]:
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        reader = StampedReader(ours)
        reader.start(asyncio.get_running_loop(), b"", 0.0)
        try:
            for data in sends:
                theirs.sendall(data)
            await until_on_loop(lambda: len(reader.texts) == len(expected), what="every text frame read")
            theirs.settimeout(5)
            pong = theirs.recv(64)
        finally:
            reader.close()
            theirs.close()
        ordered = all(0 < at <= read for (at, _), read in zip(reader.texts, reader.reads, strict=True))
        return [text for _, text in reader.texts], ordered, pong

    texts, ordered, pong = asyncio.run(scenario())
    assert texts == expected and ordered
    mask = pong[2:6]
    assert pong[0] == 0x80 | OP_PONG and pong[1] == 0x80 | 4  # a masked client frame
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(pong[6:10])) == b"here"
