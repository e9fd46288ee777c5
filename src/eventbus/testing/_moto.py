"""A moto server on loopback, for running the AWS backend without AWS."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@contextmanager
def moto_server(*, fake_credentials: bool = True) -> Iterator[str]:
    """Run moto's server on 127.0.0.1 (a free port) and yield its endpoint URL.

    Point ``AwsBackend(endpoint_url=...)`` at it. With ``fake_credentials`` (the
    default) the process's AWS credentials are replaced by dummies while the
    server runs, so no real account can be reached by mistake; they are restored
    afterwards. Needs the ``moto`` extra: ``pip install 'eventbus[moto]'``.

    moto departs from AWS in places (it implements no message move tasks, for
    one); the contract tests in this repository name the departures they meet.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(
            "moto_server needs moto's server: pip install 'eventbus[moto]'"
        ) from error

    saved = {key: os.environ.get(key) for key in _FAKE_CREDENTIALS}
    if fake_credentials:
        os.environ.update(_FAKE_CREDENTIALS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        if fake_credentials:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
