"""Names, ARNs and URLs of queues and topics, with AWS's naming rules."""

from __future__ import annotations

import hashlib
import re

from ._errors import InvalidParameter, InvalidParameterValue

LOCAL_ACCOUNT_ID = "000000000000"
"""The fixed account id of every local resource."""

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")


def check_queue_name(name: str, *, fifo: bool) -> None:
    """Raise InvalidParameterValue unless ``name`` is a valid queue name.

    1-80 characters of ``A-Z a-z 0-9 - _``; a FIFO queue's name ends in ``.fifo``
    (the suffix counts toward the 80) and only a FIFO queue's name may.
    """
    if not isinstance(name, str):
        raise InvalidParameterValue(f"Queue name must be a str, not {type(name).__name__}.")
    stem = name.removesuffix(".fifo")
    if name.endswith(".fifo") and not fifo:
        raise InvalidParameterValue(
            f"Queue name {name!r} ends in '.fifo', which only FIFO queues may; "
            "pass fifo_queue=True or drop the suffix."
        )
    if fifo and not name.endswith(".fifo"):
        raise InvalidParameterValue(f"FIFO queue name {name!r} must end in '.fifo'.")
    if len(name) > 80 or not _QUEUE_NAME.fullmatch(stem):
        raise InvalidParameterValue(
            f"Queue name {name!r} is invalid: it must be 1-80 characters of A-Z, a-z, "
            "0-9, '-' and '_' (a FIFO queue's '.fifo' suffix included)."
        )


def check_topic_name(name: str, *, fifo: bool) -> None:
    """Raise InvalidParameter unless ``name`` is a valid topic name."""
    if not isinstance(name, str):
        raise InvalidParameter("Invalid parameter: Topic Name (must be a str)")
    stem = name.removesuffix(".fifo") if fifo else name
    if len(name) > 256 or not _TOPIC_NAME.fullmatch(stem) or (fifo and not name.endswith(".fifo")):
        raise InvalidParameter(
            f"Invalid parameter: Topic Name {name!r} (1-256 characters of A-Z, a-z, "
            "0-9, '-' and '_'; a FIFO topic's name ends in '.fifo', a standard one's not)"
        )


def queue_arn(region: str, name: str) -> str:
    """The ARN of a local queue."""
    return f"arn:aws:sqs:{region}:{LOCAL_ACCOUNT_ID}:{name}"


def queue_url(region: str, name: str) -> str:
    """The URL of a local queue, in AWS's format."""
    return f"https://sqs.{region}.amazonaws.com/{LOCAL_ACCOUNT_ID}/{name}"


def topic_arn(region: str, name: str) -> str:
    """The ARN of a local topic."""
    return f"arn:aws:sns:{region}:{LOCAL_ACCOUNT_ID}:{name}"


def queue_name_from(reference: str) -> str:
    """The queue name inside a name, URL or ARN (the last path or ARN component)."""
    if reference.startswith("arn:"):
        return reference.rsplit(":", 1)[-1]
    if "://" in reference:
        return reference.rstrip("/").rsplit("/", 1)[-1]
    return reference


def topic_name_from(reference: str) -> str:
    """The topic name inside a name or ARN."""
    if reference.startswith("arn:"):
        return reference.rsplit(":", 1)[-1]
    return reference


#: Message group and deduplication ids: 1-128 alphanumeric or punctuation characters.
FIFO_ID = re.compile(r"[!-~]{1,128}")

DEDUPLICATION_INTERVAL = 300.0
"""How long SQS and SNS FIFO remember a deduplication id, in seconds."""


def content_deduplication_id(text: str) -> str:
    """The deduplication id content-based deduplication derives: SHA-256 of the body."""
    return hashlib.sha256(text.encode()).hexdigest()
