"""The topic machine: subscriptions, publish validation and fan-out to SQS deliveries."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from ._attributes import (
    MessageAttributeValue,
    attributes_size,
    to_attribute_value,
    validate_sns_attributes,
)
from ._changes import Changes
from ._envelope import Envelope, iso_timestamp
from ._errors import EventBusError, InvalidParameter, ParameterValueInvalid, bounded_repr, echo
from ._filter_policy import (
    FilterPolicy,
    FilterPolicyScope,
    PublishedMessage,
    compile_filter_policy,
)
from ._message import EMPTY_ATTRIBUTES
from ._names import DEDUPLICATION_INTERVAL, FIFO_ID, content_deduplication_id
from ._settings import TopicSettings

MAX_PUBLISH_BYTES: Final = 262_144
_SEQUENCE_BASE: Final = 10_000_000_000_000_000_000
_SUBJECT_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(slots=True, eq=False)
class SubscriptionRecord:
    """A topic's subscription of one SQS queue."""

    arn: str
    topic_arn: str
    endpoint: str
    """The subscribed queue's ARN."""
    raw_message_delivery: bool
    filter_policy: FilterPolicy | None
    filter_policy_scope: FilterPolicyScope
    dead_letter_target_arn: str | None = None
    """The subscription's dead-letter queue (its ``RedrivePolicy``), if any."""

    def same_settings(
        self,
        raw_message_delivery: bool | None,
        filter_policy: FilterPolicy | None,
        filter_policy_given: bool,
        filter_policy_scope: str | None,
        dead_letter_target_arn: str | None,
    ) -> bool:
        """True if subscribing again with these settings changes nothing.

        A setting not given (None; ``filter_policy_given`` false for the policy) is
        not compared, as SNS compares only the attributes a Subscribe call gives.
        """
        if raw_message_delivery is not None and raw_message_delivery != self.raw_message_delivery:
            return False
        if filter_policy_given:
            mine = self.filter_policy.source if self.filter_policy else None
            theirs = filter_policy.source if filter_policy else None
            if mine != theirs:
                return False
        if filter_policy_scope is not None and filter_policy_scope != self.filter_policy_scope:
            return False
        return dead_letter_target_arn is None or dead_letter_target_arn == (
            self.dead_letter_target_arn
        )

    def attributes(self) -> dict[str, str]:
        """The subscription's attributes under their AWS names, as strings.

        ``FilterPolicyScope`` is listed only while a filter policy is set, as AWS
        answers GetSubscriptionAttributes (LocalStack's AWS-validated snapshots of
        ``test_subscribe_idempotency`` and ``test_subscribe_attributes``).
        """
        out = {
            "SubscriptionArn": self.arn,
            "TopicArn": self.topic_arn,
            "Endpoint": self.endpoint,
            "Protocol": "sqs",
            "Owner": self.topic_arn.split(":")[4],
            "PendingConfirmation": "false",
            "ConfirmationWasAuthenticated": "true",
            "RawMessageDelivery": str(self.raw_message_delivery).lower(),
        }
        if self.filter_policy is not None:
            out["FilterPolicy"] = json.dumps(self.filter_policy.source)
            out["FilterPolicyScope"] = self.filter_policy_scope
        if self.dead_letter_target_arn is not None:
            out["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": self.dead_letter_target_arn})
        return out


@dataclass(slots=True, eq=False)
class Delivery:
    """One message SNS hands to one subscribed queue.

    On a FIFO topic it carries the group and deduplication ids; the broker passes
    them to FIFO queues only (a standard queue does not get a FIFO topic's group id).

    Read-only by convention, not frozen: one is made per delivery, and a frozen
    dataclass pays an ``object.__setattr__`` call per field to be built.
    """

    subscription: SubscriptionRecord
    body: str
    message_attributes: Mapping[str, MessageAttributeValue]
    message_group_id: str | None
    message_deduplication_id: str | None = None
    envelope: Envelope | None = None
    """The envelope ``body`` was made from (non-raw delivery), which checks it cheaply."""


@dataclass(slots=True, eq=False)
class Publication:
    """A validated publish (read-only by convention; not frozen, as :class:`Delivery`)."""

    message: str
    subject: str | None
    attributes: Mapping[str, MessageAttributeValue]
    message_group_id: str | None
    message_deduplication_id: str | None
    size: int = 0
    """Bytes the publish counts toward SNS's 256 KiB: the message and attributes."""


def sqs_message(message: str) -> str:
    """The message a ``MessageStructure=json`` publish delivers to SQS subscriptions.

    The message is a JSON object of one message per protocol: its ``sqs`` entry if
    that is a string, else its ``default`` entry, which must be a string (entries of
    other types are ignored, as AWS documents: "Keys in the JSON object that
    correspond to supported transport protocols must have simple JSON string
    values"). The texts are AWS's (LocalStack's AWS-validated snapshot of
    ``test_message_structure_json_exc``).

    Raises:
        InvalidParameter: not JSON, or no string ``default`` entry.
    """
    try:
        document = json.loads(message)
    except ValueError:
        raise InvalidParameter(
            "Invalid parameter: Message Structure - JSON message body failed to parse"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("default"), str):
        raise InvalidParameter(
            "Invalid parameter: Message Structure - No default entry in JSON message body"
        )
    chosen = document.get("sqs")
    return chosen if isinstance(chosen, str) else cast(str, document["default"])


def check_message_structure(message: str, message_structure: object) -> str:
    """The message SQS subscriptions get: ``message`` itself, or with
    ``message_structure="json"`` its ``sqs`` (or ``default``) entry.

    Raises:
        InvalidParameter: a structure other than ``json``, or a bad JSON message.
    """
    if message_structure is None:
        return message
    if message_structure != "json":
        raise InvalidParameter(
            "Invalid parameter: MessageStructure (only 'json' is valid, not "
            f"{bounded_repr(message_structure)})"
        )
    return sqs_message(message)


def check_message(message: object) -> tuple[str, int]:
    """Check an SNS message's type and content; return it and its size in bytes (UTF-8).

    Raises:
        InvalidParameter: not a str, empty, or not encodable (a lone surrogate).
    """
    if not isinstance(message, str):
        raise InvalidParameter(
            f"Invalid parameter: Message (must be a str, not {type(message).__name__})"
        )
    if not message:
        raise InvalidParameter("Invalid parameter: Empty message")
    try:
        return message, len(message.encode())
    except UnicodeEncodeError:
        raise InvalidParameter(
            "Invalid parameter: Message (must be valid Unicode text: no lone surrogates)"
        ) from None


def check_subscription(
    *,
    topic_fifo: bool,
    queue_fifo: bool,
    raw_message_delivery: object,
    filter_policy: Mapping[str, Any] | str | None,
    filter_policy_scope: object,
    dead_letter_queue_fifo: bool | None,
) -> tuple[FilterPolicy | None, FilterPolicyScope]:
    """Check a queue subscription's settings as SNS does; return the compiled policy.

    Raises:
        InvalidParameter: a FIFO queue on a standard topic, a RawMessageDelivery
            that is not a bool, a bad filter policy or scope, a dead-letter queue of
            the other type than the topic.
    """
    if queue_fifo and not topic_fifo:
        raise InvalidParameter(
            "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can "
            "not be subscribed to standard SNS topics"
        )
    try:
        check_raw_message_delivery(raw_message_delivery)
    except InvalidParameter as error:
        raise InvalidParameter(
            "Invalid parameter: Attributes Reason: "
            + error.message.removeprefix("Invalid parameter: ")
        ) from None
    try:
        policy, scope = compile_policy(filter_policy, filter_policy_scope)
    except InvalidParameter as error:
        raise InvalidParameter(
            "Invalid parameter: Attributes Reason: "
            + error.message.removeprefix("Invalid parameter: ")
        ) from None
    if dead_letter_queue_fifo is not None:
        check_subscription_dlq(
            topic_fifo=topic_fifo, endpoint_fifo=queue_fifo, dlq_fifo=dead_letter_queue_fifo
        )
    return policy, scope


def check_raw_message_delivery(value: object) -> bool:
    """Return ``value`` if it is a valid ``RawMessageDelivery`` (a bool), else raise.

    Raises:
        InvalidParameter: not a bool.
    """
    if not isinstance(value, bool):
        raise InvalidParameter(
            f"Invalid parameter: RawMessageDelivery: Invalid value [{echo(value)}]. "
            "Must be true or false."
        )
    return value


def check_subscription_dlq(*, topic_fifo: bool, endpoint_fifo: bool, dlq_fifo: bool) -> None:
    """Raise InvalidParameter unless the DLQ's type suits the subscription.

    A FIFO subscription (a FIFO queue on a FIFO topic) needs a FIFO DLQ, with AWS's
    text "Invalid parameter: RedrivePolicy: must use a FIFO queue as DLQ for a FIFO
    Subscription to a FIFO Topic." (LocalStack's AWS-validated snapshot of
    ``test_validations_for_fifo``, test_sns.py). A standard queue's subscription to
    a FIFO topic takes a standard DLQ (same recording) or a FIFO one. A standard
    topic's subscriptions need a standard DLQ, as the SNS guide says ("standard
    topic subscriptions use standard queues"); that text is ours.
    """
    if topic_fifo and endpoint_fifo and not dlq_fifo:
        raise InvalidParameter(
            "Invalid parameter: RedrivePolicy: must use a FIFO queue as DLQ for a FIFO "
            "Subscription to a FIFO Topic."
        )
    if not topic_fifo and dlq_fifo:
        raise InvalidParameter(
            "Invalid parameter: RedrivePolicy: must use a standard queue as DLQ for a "
            "subscription to a standard topic."
        )


def compile_policy(
    policy: Mapping[str, Any] | str | None, scope: object
) -> tuple[FilterPolicy | None, FilterPolicyScope]:
    """Validate a subscription's filter policy and scope and compile the policy.

    Raises:
        InvalidParameter: the scope is unknown or the policy is invalid.
    """
    # A scope that is not a str is refused by its (bounded) repr: str() of a deeply
    # nested value would raise RecursionError.
    text = scope if isinstance(scope, str) else bounded_repr(scope)
    compiled = compile_filter_policy({} if policy is None else policy, scope=text)
    return compiled, cast(FilterPolicyScope, scope)


class TopicMachine:
    """An SNS topic, standard or FIFO: its subscriptions and what a publish delivers.

    A FIFO topic requires a group id on every publish, deduplicates for 5 minutes
    (by the given id, or the SHA-256 of the message with content-based
    deduplication), numbers its messages, and sends envelopes without signature.
    """

    def __init__(self, name: str, arn: str, settings: TopicSettings, *, region: str) -> None:
        self.name = name
        self.arn = arn
        self.settings = settings
        self.region = region
        self.subscriptions: dict[str, SubscriptionRecord] = {}
        self._sequence = 0
        self._dedup: dict[str, tuple[str, str]] = {}
        self._dedup_expiry: deque[tuple[float, str]] = deque()

    @property
    def sequence(self) -> int:
        """How many messages a FIFO topic has numbered (kept by durable stores)."""
        return self._sequence

    def restore(self, sequence: int, dedup: list[tuple[str, str, str, float]]) -> None:
        """Take back the sequence counter and deduplication entries (by expiry)."""
        self._sequence = sequence
        for key, message_id, sequence_number, expires_at in dedup:
            self._dedup[key] = (message_id, sequence_number)
            self._dedup_expiry.append((expires_at, key))

    def subscription_for(self, endpoint: str) -> SubscriptionRecord | None:
        """The subscription of the queue with ARN ``endpoint``, if any."""
        for record in self.subscriptions.values():
            if record.endpoint == endpoint:
                return record
        return None

    def prepare_publish(
        self,
        message: object,
        *,
        subject: object,
        message_attributes: Mapping[str, object] | None,
        message_group_id: object,
        message_deduplication_id: object,
        message_structure: object = None,
    ) -> Publication:
        """Validate a publish.

        With ``message_structure="json"`` the publication carries the message SQS
        subscriptions get (:func:`sqs_message`); the size counts the whole message,
        and content-based deduplication hashes the whole message too.

        Raises:
            InvalidParameter: empty or too long a message, a bad subject, a
                deduplication id on a standard topic, a missing or bad group id or a
                missing deduplication id on a FIFO topic.
            ParameterValueInvalid: a bad message attribute.
        """
        message, size = check_message(message)
        delivered = check_message_structure(message, message_structure)
        if subject is not None and (
            not isinstance(subject, str)
            or not subject
            or len(subject) >= 100
            or _SUBJECT_FORBIDDEN.search(subject)
        ):
            raise InvalidParameter(
                "Invalid parameter: Subject (1-99 printable characters, no line breaks)"
            )
        fifo = self.settings.fifo_topic
        if message_deduplication_id is not None and not fifo:
            raise InvalidParameter(
                "Invalid parameter: MessageDeduplicationId Reason: The request includes "
                "MessageDeduplicationId parameter that is not valid for this topic type"
            )
        if fifo:
            if message_group_id is None:
                raise InvalidParameter(
                    "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
                )
            if message_deduplication_id is None:
                if not self.settings.content_based_deduplication:
                    raise InvalidParameter(
                        "Invalid parameter: The topic should either have "
                        "ContentBasedDeduplication enabled or MessageDeduplicationId provided "
                        "explicitly"
                    )
                message_deduplication_id = content_deduplication_id(message)
            elif not isinstance(message_deduplication_id, str) or not FIFO_ID.fullmatch(
                message_deduplication_id
            ):
                raise InvalidParameter(
                    "Invalid parameter: MessageDeduplicationId Reason: 1-128 alphanumeric or "
                    "punctuation characters"
                )
        if message_group_id is not None and (
            not isinstance(message_group_id, str) or not FIFO_ID.fullmatch(message_group_id)
        ):
            raise InvalidParameter(
                "Invalid parameter: MessageGroupId Reason: 1-128 alphanumeric or "
                "punctuation characters"
            )
        attributes: Mapping[str, MessageAttributeValue] = EMPTY_ATTRIBUTES
        if message_attributes:
            try:
                attributes = {
                    name: to_attribute_value(name, value, allow_array=True)
                    for name, value in message_attributes.items()
                }
            except EventBusError as error:
                raise ParameterValueInvalid(error.message) from None
            validate_sns_attributes(attributes)
            size += attributes_size(attributes)
        if size > MAX_PUBLISH_BYTES:
            raise InvalidParameter(
                f"Invalid parameter: Message too long ({size} bytes with attributes; "
                f"at most {MAX_PUBLISH_BYTES})"
            )
        return Publication(
            delivered,
            subject,
            attributes,
            message_group_id,
            cast(str | None, message_deduplication_id),
            size,
        )

    def deduplicate(self, publication: Publication, now: float) -> tuple[str, str] | None:
        """The (message id, sequence number) of an earlier publish this one repeats.

        A repeat within 5 minutes is accepted and not delivered again: within the
        topic, or with ``FifoThroughputScope`` ``MessageGroup`` within the message
        group (the SNS API reference, SetTopicAttributes).
        """
        key = publication.message_deduplication_id
        if key is None:
            return None
        key = self._dedup_key(key, publication)
        expiry = self._dedup_expiry
        while expiry and expiry[0][0] <= now:
            self._dedup.pop(expiry.popleft()[1], None)
        return self._dedup.get(key)

    def _dedup_key(self, key: str, publication: Publication) -> str:
        """The deduplication entry's key: the id, within the group if the scope is
        ``MessageGroup`` (a newline is in no FIFO id, so keys cannot collide)."""
        if self.settings.fifo_throughput_scope == "MessageGroup":
            return f"{publication.message_group_id}\n{key}"
        return key

    def remember(
        self,
        publication: Publication,
        message_id: str,
        now: float,
        changes: Changes | None = None,
    ) -> str | None:
        """Record a publish for deduplication; return its sequence number (FIFO)."""
        if not self.settings.fifo_topic:
            return None
        self._sequence += 1
        sequence_number = str(_SEQUENCE_BASE + self._sequence)
        if changes is not None:
            changes.topics.add(self.name)
        key = publication.message_deduplication_id
        if key is not None:
            key = self._dedup_key(key, publication)
            self._dedup[key] = (message_id, sequence_number)
            if changes is not None:
                changes.topic_dedup.append(
                    (self.name, key, message_id, sequence_number, now + DEDUPLICATION_INTERVAL)
                )
            self._dedup_expiry.append((now + DEDUPLICATION_INTERVAL, key))
        return sequence_number

    def fan_out(
        self,
        publication: Publication,
        *,
        message_id: str,
        sequence_number: str | None,
        now: float,
    ) -> list[Delivery]:
        """What one publish delivers: a Delivery per subscription whose policy matches."""
        message = publication.message
        attributes = publication.attributes
        group_id = publication.message_group_id
        dedup_id = publication.message_deduplication_id
        envelope: Envelope | None = None
        out: list[Delivery] = []
        published = PublishedMessage(attributes, message)
        for record in self.subscriptions.values():
            policy = record.filter_policy
            if policy is not None and not policy.matches_message(published):
                continue
            if record.raw_message_delivery:
                out.append(Delivery(record, message, attributes, group_id, dedup_id))
                continue
            if envelope is None:
                envelope = Envelope(
                    region=self.region,
                    message_id=message_id,
                    topic_arn=self.arn,
                    message=message,
                    subject=publication.subject,
                    timestamp=iso_timestamp(now),
                    attributes=attributes,
                    sequence_number=sequence_number,
                )
            body = envelope.for_subscription(record.arn)
            out.append(Delivery(record, body, EMPTY_ATTRIBUTES, group_id, dedup_id, envelope))
        return out
