"""The server's HTTP protocol turns Nagle's algorithm off on sockets bound the way uvicorn binds them
for several workers (``socket.socket(AF_INET)``, protocol 0), where asyncio leaves it on."""

from __future__ import annotations

import asyncio
import socket

from uvicorn.config import Config
from uvicorn.server import ServerState


async def _accepted_nodelay(protocol: str) -> tuple[int, int]:
    """TCP_NODELAY of one accepted connection served by ``protocol``, and of its raw accepted socket
    before the protocol saw it (what asyncio alone gives)."""
    config = Config(app="service.api.app:create_app", factory=True, http=protocol, log_level="warning")
    config.load()
    made: list[asyncio.Protocol] = []

    def factory() -> asyncio.Protocol:
        proto = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
        made.append(proto)
        return proto

    listener = socket.socket(family=socket.AF_INET)  # as uvicorn's Config.bind_socket makes it
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    assert listener.proto == 0
    server = await asyncio.get_running_loop().create_server(factory, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        for _ in range(100):
            if made and getattr(made[0], "transport", None) is not None:
                break
            await asyncio.sleep(0.01)
        sock = made[0].transport.get_extra_info("socket")  # type: ignore[attr-defined]
        value = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        return value, listener.proto
    finally:
        server.close()


def test_connections_have_tcp_nodelay_with_several_workers_socket() -> None:
    ours, _ = asyncio.run(_accepted_nodelay("service.api.nodelay:NoDelayH11Protocol"))
    plain, _ = asyncio.run(_accepted_nodelay("h11"))
    assert ours != 0  # our protocol sets it: no 40 ms delayed-ACK wait per response
    assert plain == 0  # the defect it fixes: uvicorn's own protocol on such a socket leaves it off
