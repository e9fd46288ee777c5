"""Queue and topic settings as the core keeps them, with AWS's ranges and defaults."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final, Literal

#: snake_case keyword -> (AWS attribute name, minimum, maximum, default), for every
#: integer queue attribute.
QUEUE_INT_ATTRIBUTES: Final[dict[str, tuple[str, int, int, int]]] = {
    "visibility_timeout": ("VisibilityTimeout", 0, 43_200, 30),
    "delay_seconds": ("DelaySeconds", 0, 900, 0),
    "message_retention_period": ("MessageRetentionPeriod", 60, 1_209_600, 345_600),
    "maximum_message_size": ("MaximumMessageSize", 1_024, 1_048_576, 1_048_576),
    "receive_message_wait_time_seconds": ("ReceiveMessageWaitTimeSeconds", 0, 20, 0),
}

#: Every settable queue attribute: snake_case keyword -> AWS attribute name.
QUEUE_AWS_NAMES: Final[dict[str, str]] = {
    key: aws for key, (aws, *_) in QUEUE_INT_ATTRIBUTES.items()
} | {
    "redrive_policy": "RedrivePolicy",
    "redrive_allow_policy": "RedriveAllowPolicy",
    "fifo_queue": "FifoQueue",
    "content_based_deduplication": "ContentBasedDeduplication",
    "deduplication_scope": "DeduplicationScope",
    "fifo_throughput_limit": "FifoThroughputLimit",
    "policy": "Policy",
}

MAX_RECEIVE_COUNT_RANGE: Final = (1, 1_000)
MAX_VISIBILITY_TIMEOUT: Final = 43_200


@dataclass(frozen=True, slots=True)
class RedriveRule:
    """A source queue's redrive policy, with the dead-letter queue resolved to its ARN."""

    dead_letter_target_arn: str
    max_receive_count: int

    def to_json(self) -> str:
        """The policy as the JSON text AWS stores in ``RedrivePolicy``."""
        return json.dumps(
            {
                "deadLetterTargetArn": self.dead_letter_target_arn,
                "maxReceiveCount": self.max_receive_count,
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class RedriveAllowRule:
    """A dead-letter queue's ``RedriveAllowPolicy``: which queues may use it."""

    redrive_permission: Literal["allowAll", "denyAll", "byQueue"] = "allowAll"
    source_queue_arns: tuple[str, ...] = ()

    def allows(self, source_arn: str) -> bool:
        """True if the queue with ARN ``source_arn`` may name this one as its DLQ."""
        if self.redrive_permission == "byQueue":
            return source_arn in self.source_queue_arns
        return self.redrive_permission == "allowAll"

    def to_json(self) -> str:
        """The policy as the JSON text AWS stores in ``RedriveAllowPolicy``."""
        policy: dict[str, object] = {"redrivePermission": self.redrive_permission}
        if self.redrive_permission == "byQueue":
            policy["sourceQueueArns"] = list(self.source_queue_arns)
        return json.dumps(policy, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """The settable attributes of a queue, validated, in snake_case."""

    visibility_timeout: int = 30
    delay_seconds: int = 0
    message_retention_period: int = 345_600
    maximum_message_size: int = 1_048_576
    receive_message_wait_time_seconds: int = 0
    redrive_policy: RedriveRule | None = None
    redrive_allow_policy: RedriveAllowRule | None = None
    fifo_queue: bool = False
    content_based_deduplication: bool = False
    deduplication_scope: Literal["queue", "messageGroup"] = "queue"
    fifo_throughput_limit: Literal["perQueue", "perMessageGroupId"] = "perQueue"
    policy: str | None = None
    """The access policy as JSON text (``Policy``), or None."""

    def to_aws(self) -> dict[str, str]:
        """The attributes under their AWS names, as strings (GetQueueAttributes)."""
        out = {aws: str(getattr(self, key)) for key, (aws, *_) in QUEUE_INT_ATTRIBUTES.items()}
        if self.redrive_policy is not None:
            out["RedrivePolicy"] = self.redrive_policy.to_json()
        if self.redrive_allow_policy is not None:
            out["RedriveAllowPolicy"] = self.redrive_allow_policy.to_json()
        if self.policy is not None:
            out["Policy"] = self.policy
        if self.fifo_queue:
            out["FifoQueue"] = "true"
            out["ContentBasedDeduplication"] = str(self.content_based_deduplication).lower()
            out["DeduplicationScope"] = self.deduplication_scope
            out["FifoThroughputLimit"] = self.fifo_throughput_limit
        return out


@dataclass(frozen=True, slots=True)
class TopicSettings:
    """The settable attributes of a topic."""

    fifo_topic: bool = False
    content_based_deduplication: bool = False
    display_name: str = ""

    def to_aws(self) -> dict[str, str]:
        """The attributes under their AWS names, as strings (GetTopicAttributes)."""
        out = {"DisplayName": self.display_name}
        if self.fifo_topic:
            out["FifoTopic"] = "true"
            out["ContentBasedDeduplication"] = str(self.content_based_deduplication).lower()
        return out
