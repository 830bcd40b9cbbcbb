"""Serving the hub: one uvicorn process, or several sharing the port.

With ``workers`` above 1, each process binds its own listening socket to the same address
with ``SO_REUSEPORT`` and the kernel spreads new connections over them. uvicorn's own
``--workers`` shares one socket instead, and a burst of keep-alive clients then lands mostly
on whichever process woke first: at 150 requests/s one process ran at 73% CPU and its peer
at 20%. Each process builds its own application (and database pool) after the fork.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

LOG_SETTINGS: dict[str, Any] = {"log_level": "warning", "access_log": False}


def serve(app_factory: Callable[[], Any], host: str, port: int, workers: int = 1) -> None:
    """Serve the application ``app_factory`` builds until Ctrl-C or SIGTERM."""
    import uvicorn

    if workers <= 1:
        uvicorn.run(app_factory(), host=host, port=port, **LOG_SETTINGS)
        return
    if not hasattr(socket, "SO_REUSEPORT"):
        raise RuntimeError("several worker processes need SO_REUSEPORT (Linux or BSD)")
    # Fails here, once and plainly, if the port is taken; closed again before the fork, or
    # the kernel would hand connections to a socket nobody accepts on.
    _listening_socket(host, port).close()
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            _run_worker(app_factory, host, port)
        children.append(pid)
    if not _supervise(children):
        raise RuntimeError("a hub worker process stopped with an error (see above)")


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run_worker(app_factory: Callable[[], Any], host: str, port: int) -> None:
    import uvicorn

    code = 0
    try:
        sock = _listening_socket(host, port)
        server = uvicorn.Server(uvicorn.Config(app_factory(), **LOG_SETTINGS))
        server.run(sockets=[sock])
    except BaseException as error:  # a worker must never return into the parent's code
        print(f"hub worker {os.getpid()} stopped: {error}", file=sys.stderr)
        code = 1
    finally:
        os._exit(code)


def _supervise(children: list[int]) -> bool:
    """Wait for the workers; on Ctrl-C or SIGTERM stop them all; if one dies, stop the rest.
    True if every worker ended cleanly."""

    def stop(*_args: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, lambda *_: stop())
    remaining = set(children)
    clean = True
    try:
        while remaining:
            try:
                pid, status = os.wait()
            except KeyboardInterrupt:
                stop()
                continue
            except ChildProcessError:
                break
            remaining.discard(pid)
            clean = clean and os.waitstatus_to_exitcode(status) in (0, -signal.SIGTERM)
            stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return clean
