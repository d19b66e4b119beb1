"""The stakeholder notice as mail: an .eml file any mail client opens, and a ``mailto:``
URL for the default client (RFC 6068). Qt-free."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from urllib.parse import quote


def split_subject(notice: str) -> tuple[str, str]:
    """The composed notice starts with ``Subject: …``; the rest is the body."""
    first, _, rest = notice.partition("\n")
    if first.lower().startswith("subject:"):
        return first.split(":", 1)[1].strip(), rest.lstrip("\n")
    return "Planned maintenance of Hyper-V hosts", notice


def eml_bytes(notice: str, to: str = "") -> bytes:
    subject, body = split_subject(notice)
    msg = EmailMessage()
    msg["Subject"] = subject
    if to:
        msg["To"] = to
    msg["X-Unsent"] = "1"        # Outlook opens it as a draft to send, not as a received mail
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP)


def mailto_url(notice: str, to: str = "") -> str:
    subject, body = split_subject(notice)
    body = body.replace("\r\n", "\n").replace("\n", "\r\n")   # RFC 6068: line breaks are CRLF
    return f"mailto:{quote(to, safe='@,')}?subject={quote(subject, safe='')}&body={quote(body, safe='')}"
