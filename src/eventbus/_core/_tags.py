"""Queue and topic tags: AWS's rules for keys, values and how many.

The rules, from the SQS developer guide ("Quotas related to queues", Queue tag) and
the SNS API reference (TagResource):

- a key is 1-128 characters, a value 0-256; both are case-sensitive;
- both may hold Unicode letters and digits, white space and ``_ . : / = + - @``;
- neither may start with the reserved prefix ``aws:``;
- a resource keeps at most 50 tags (SQS: "We don't recommend adding more than 50",
  refused by SQS as ``InvalidParameterValue`` "Too many tags added for queue
  <name>.", the text moto returns too; SNS: ``TagLimitExceeded``, "Can't add more
  than 50 tags to a topic." in the API reference, with the message moto returns);
- a tag with a key already present replaces it; untagging a key that is absent is
  no error.

The texts for a bad key or value are ours (AWS's are not recorded); they name the
rule that was broken. Every check runs before anything changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._errors import (
    EventBusError,
    InvalidParameter,
    InvalidParameterValue,
    TagLimitExceeded,
    bounded_repr,
)

MAX_TAGS = 50
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
RESERVED_PREFIX = "aws:"
_SPECIAL = frozenset("_.:/=+-@")


def _bad_character(text: str) -> str | None:
    for character in text:
        if not (character.isalnum() or character.isspace() or character in _SPECIAL):
            return character
    return None


def _check_tag(key: object, value: object, error: type[EventBusError]) -> None:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise error(
            f"Tag key {bounded_repr(key)} is invalid: a key is 1-{MAX_KEY_LENGTH} characters "
            "(a str)."
        )
    if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
        raise error(
            f"Tag value {bounded_repr(value)} of key {bounded_repr(key)} is invalid: a value is "
            f"0-{MAX_VALUE_LENGTH} characters (a str)."
        )
    for kind, text in (("key", key), ("value", value)):
        if text.lower().startswith(RESERVED_PREFIX):
            raise error(
                f"Tag {kind} {bounded_repr(text)} is invalid: the prefix 'aws:' is reserved "
                "for AWS."
            )
        bad = _bad_character(text)
        if bad is not None:
            raise error(
                f"Tag {kind} {bounded_repr(text)} is invalid: {bounded_repr(bad)} is not allowed "
                "(letters, digits, "
                "white space and _ . : / = + - @ are)."
            )


def tagged(
    existing: Mapping[str, str], tags: Mapping[str, str], *, resource: str, sns: bool
) -> dict[str, str]:
    """The tags of a resource after ``tags`` are added to ``existing``.

    Args:
        existing: the resource's tags now.
        tags: the tags to add or replace (at least one).
        resource: the queue's name or the topic's ARN, for the messages.
        sns: the resource is a topic (SNS's error codes), not a queue (SQS's).

    Raises:
        EventBusError: ``InvalidParameterValue`` (SQS) or ``InvalidParameter`` (SNS)
            for a bad key or value or no tags at all; ``InvalidParameterValue`` (SQS)
            or ``TagLimitExceeded`` (SNS) beyond 50 tags.
    """
    error: type[EventBusError] = InvalidParameter if sns else InvalidParameterValue
    if not isinstance(tags, Mapping) or not tags:
        raise error(
            "Invalid parameter: Tags (at least one tag, as a mapping of keys to values)"
            if sns
            else "The request must contain the parameter Tags (at least one tag)."
        )
    for key, value in tags.items():
        _check_tag(key, value, error)
    merged = {**existing, **tags}
    if len(merged) > MAX_TAGS:
        if sns:
            raise TagLimitExceeded(
                "Could not complete request: tag quota of per resource exceeded "
                f"(at most {MAX_TAGS} tags on {resource}; it would have {len(merged)})."
            )
        raise InvalidParameterValue(
            f"Too many tags added for queue {resource}. (at most {MAX_TAGS}; it would have "
            f"{len(merged)})"
        )
    return merged


def untagged(existing: Mapping[str, str], keys: Iterable[str], *, sns: bool) -> dict[str, str]:
    """The tags of a resource after removing ``keys`` (absent keys are ignored).

    Raises:
        EventBusError: ``InvalidParameterValue`` (SQS) or ``InvalidParameter`` (SNS)
            for no keys, or a key that is not 1-128 characters.
    """
    error: type[EventBusError] = InvalidParameter if sns else InvalidParameterValue
    if isinstance(keys, str):
        raise error(f"Tag keys must be a collection of keys, not the str {bounded_repr(keys)}.")
    wanted = list(keys)
    if not wanted:
        raise error("Tag keys must be between 1 and 128 characters in length (none given).")
    for key in wanted:
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise error(
                "Tag keys must be between 1 and 128 characters in length "
                f"(got {bounded_repr(key)})."
            )
    gone = set(wanted)
    return {key: value for key, value in existing.items() if key not in gone}


def check_create_tags(
    tags: Mapping[str, str] | None, *, resource: str, sns: bool
) -> dict[str, str]:
    """Check the tags given to a create call; return them as a dict ({} for None)."""
    if tags is None:
        return {}
    if isinstance(tags, Mapping) and not tags:
        return {}
    return tagged({}, tags, resource=resource, sns=sns)
