"""Queue and topic settings as the core keeps them, with AWS's ranges and defaults."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

DeduplicationScope = Literal["queue", "messageGroup"]
"""Where a FIFO queue deduplicates: across the queue, or within each message group."""
FifoThroughputLimit = Literal["perQueue", "perMessageGroupId"]
"""What a FIFO queue's throughput quota applies to (``perMessageGroupId`` only with
``DeduplicationScope`` ``messageGroup``)."""
FifoThroughputScope = Literal["Topic", "MessageGroup"]
"""Where a FIFO topic deduplicates: across the topic, or within each message group."""

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
    "kms_master_key_id": "KmsMasterKeyId",
    "kms_data_key_reuse_period_seconds": "KmsDataKeyReusePeriodSeconds",
    "sqs_managed_sse_enabled": "SqsManagedSseEnabled",
}

#: Every settable topic attribute: snake_case keyword -> AWS attribute name.
TOPIC_AWS_NAMES: Final[dict[str, str]] = {
    "fifo_topic": "FifoTopic",
    "content_based_deduplication": "ContentBasedDeduplication",
    "display_name": "DisplayName",
    "fifo_throughput_scope": "FifoThroughputScope",
    "kms_master_key_id": "KmsMasterKeyId",
}

KMS_DATA_KEY_REUSE_PERIOD: Final = (60, 86_400, 300)
"""KmsDataKeyReusePeriodSeconds: minimum, maximum and default (seconds)."""

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
    deduplication_scope: DeduplicationScope = "queue"
    fifo_throughput_limit: FifoThroughputLimit = "perQueue"
    policy: str | None = None
    """The access policy as JSON text (``Policy``), or None."""
    kms_master_key_id: str | None = None
    """The KMS key of SSE-KMS: kept and returned, nothing is encrypted."""
    kms_data_key_reuse_period_seconds: int = 300
    sqs_managed_sse_enabled: bool = True
    """SSE-SQS, on by default as on AWS (off once a KMS key is set): reported only."""

    def to_aws(self) -> dict[str, str]:
        """The attributes under their AWS names, as strings (GetQueueAttributes).

        As AWS answers (LocalStack's AWS-validated snapshot of
        ``test_set_queue_attributes_default_values``): ``SqsManagedSseEnabled``
        always; ``KmsMasterKeyId`` and ``KmsDataKeyReusePeriodSeconds`` only while a
        KMS key is set; the FIFO attributes on FIFO queues only.
        """
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
        if self.kms_master_key_id:
            out["KmsMasterKeyId"] = self.kms_master_key_id
            out["KmsDataKeyReusePeriodSeconds"] = str(self.kms_data_key_reuse_period_seconds)
        out["SqsManagedSseEnabled"] = str(self.sqs_managed_sse_enabled).lower()
        return out

    def first_difference(self, other: QueueSettings, keys: Iterable[str]) -> str | None:
        """The first of ``keys`` (snake_case) whose value differs in ``other``, if any."""
        for key in keys:
            if getattr(self, key) != getattr(other, key):
                return key
        return None


@dataclass(frozen=True, slots=True)
class TopicSettings:
    """The settable attributes of a topic."""

    fifo_topic: bool = False
    content_based_deduplication: bool = False
    display_name: str = ""
    fifo_throughput_scope: FifoThroughputScope = "Topic"
    kms_master_key_id: str | None = None
    """The KMS key of SSE: kept and returned, nothing is encrypted."""

    def to_aws(self) -> dict[str, str]:
        """The attributes under their AWS names, as strings (GetTopicAttributes)."""
        out = {"DisplayName": self.display_name}
        if self.fifo_topic:
            out["FifoTopic"] = "true"
            out["ContentBasedDeduplication"] = str(self.content_based_deduplication).lower()
            out["FifoThroughputScope"] = self.fifo_throughput_scope
        if self.kms_master_key_id:
            out["KmsMasterKeyId"] = self.kms_master_key_id
        return out

    def same_as(self, other: TopicSettings, keys: Iterable[str]) -> bool:
        """True if ``other`` has the same value for each of ``keys`` (snake_case)."""
        return all(getattr(self, key) == getattr(other, key) for key in keys)
