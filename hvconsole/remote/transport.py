"""pywinrm's HTTP transport with three things it lacks: a bound on how much of an answer
is read, a deadline that also covers reading the body, and a count of HTTP requests.

pywinrm reads every answer whole (``session.send`` without ``stream``), so a host that
answers with gigabytes would exhaust memory before any check could run. Here the answer
is streamed and abandoned as soon as it passes ``max_body_bytes``. The per-request
timeout is whatever the session sets in ``read_timeout_sec`` before each call (requests
reads it at send time).
"""

from __future__ import annotations

import time

import requests
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError
from winrm.transport import Transport

from .errors import RemoteError

_CHUNK = 64 * 1024


class BoundedTransport(Transport):
    """A :class:`winrm.transport.Transport` that streams answers with a size cap and a
    deadline, and counts the HTTP requests it sends (NTLM handshake legs included)."""

    def __init__(self, *args, host_label: str = "the host", max_body_bytes: int = 32 * 2**20,
                 output_limit_bytes: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.host_label = host_label
        self.max_body_bytes = max_body_bytes
        # The limit the admin configured (decoded output); the body cap above is larger
        # because of base64 and the envelope, but messages speak of this one.
        self.output_limit_bytes = output_limit_bytes or max_body_bytes
        self.deadline: float | None = None   # time.monotonic() value; None = no deadline
        self.requests_sent = 0

    def _send_message_request(self, session: requests.Session,
                              prepared_request: requests.PreparedRequest) -> requests.Response:
        self.requests_sent += 1
        response = session.send(prepared_request, timeout=self.read_timeout_sec, stream=True)
        # requests_ntlm keeps the 401 challenge legs in history: they were requests too.
        self.requests_sent += len(response.history)
        self._load_body(response)
        if response.status_code == 401:
            raise InvalidCredentialsError("the specified credentials were rejected by the server")
        if response.status_code >= 400:
            text = self._get_message_response_text(response) if response.content else b""
            raise WinRMTransportError("http", response.status_code, text.decode("utf-8", "replace"))
        return response

    def _load_body(self, response: requests.Response) -> None:
        """Read the body into ``response.content`` without ever holding more than the cap."""
        limit = self.max_body_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise self._too_large()
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise self._too_large()
                chunks.append(chunk)
                if self.deadline is not None and time.monotonic() > self.deadline:
                    raise RemoteError("timeout", f"the answer from {self.host_label} did not arrive in time")
        except BaseException:
            response.close()  # an unread rest must not go back to the connection pool
            raise
        # What requests itself does when it preloads a body (Response.content).
        response._content = b"".join(chunks)
        response._content_consumed = True

    def _too_large(self) -> RemoteError:
        return RemoteError("protocol", f"the answer from {self.host_label} is larger than "
                                       f"{megabytes(self.output_limit_bytes)}")


def megabytes(n: int) -> str:
    """``8 MB`` / ``512 KB``: a size as an admin reads it."""
    mb = n / 2**20
    return f"{mb:.0f} MB" if mb >= 1 else f"{n // 1024} KB"
