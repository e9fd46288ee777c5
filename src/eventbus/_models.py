"""Pydantic models at the API edge: queue and topic configuration, redrive policies.

They turn keyword arguments into the core's validated settings. A bad value raises
an :class:`EventBusError` with the AWS code (never a pydantic ``ValidationError``),
naming the attribute under its AWS name and the allowed range.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from ._core._errors import (
    EventBusError,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameter,
    InvalidParameterValue,
    bounded_repr,
)
from ._core._settings import QUEUE_AWS_NAMES, QUEUE_INT_ATTRIBUTES, TopicSettings

_QUEUE_AWS_NAMES = QUEUE_AWS_NAMES | {
    "redrive_permission": "redrivePermission",
    "source_queues": "sourceQueueArns",
    "dead_letter_queue": "deadLetterTargetArn",
    "max_receive_count": "maxReceiveCount",
    "fifo_topic": "FifoTopic",
    "display_name": "DisplayName",
}
_FIFO_ONLY = ("content_based_deduplication", "deduplication_scope", "fifo_throughput_limit")


def _describe(error: ValidationError, aws_names: dict[str, str], default: str) -> tuple[bool, str]:
    """(is an unknown attribute, message) for the first error of ``error``."""
    first = error.errors()[0]
    key = str(first["loc"][-1]) if first["loc"] else default
    if first["type"] == "extra_forbidden":
        return True, f"Unknown Attribute {key}."
    if key in QUEUE_INT_ATTRIBUTES:
        _, low, high, _ = QUEUE_INT_ATTRIBUTES[key]
        allowed = f"it must be an integer from {low} to {high}"
    else:
        allowed = first["msg"][0].lower() + first["msg"][1:]
    value = first.get("input")
    return (
        False,
        f"Invalid value for the parameter {aws_names.get(key, key)}: "
        f"{bounded_repr(value)}; {allowed}.",
    )


class _EdgeModel(BaseModel):
    """A frozen model whose validation errors become EventBusErrors."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    _error: ClassVar[type[EventBusError]] = InvalidAttributeValue
    _unknown: ClassVar[type[EventBusError]] = InvalidAttributeName
    _aws_name: ClassVar[str] = "Attributes"

    @model_validator(mode="wrap")
    @classmethod
    def _as_aws_error(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Self:
        try:
            result: Self = handler(data)
        except ValidationError as error:
            unknown, message = _describe(error, _QUEUE_AWS_NAMES, cls._aws_name)
            raise (cls._unknown if unknown else cls._error)(message) from None
        return result


class RedrivePolicy(_EdgeModel):
    """A source queue's redrive policy: where messages go after too many receives.

    Args:
        dead_letter_queue: the dead-letter queue's name, URL or ARN; it must exist
            and be of the same type (standard or FIFO) as the source.
        max_receive_count: receives allowed before the move, 1-1000.
    """

    _error = InvalidParameterValue
    _unknown = InvalidParameterValue
    _aws_name = "RedrivePolicy"

    dead_letter_queue: str = Field(min_length=1)
    max_receive_count: int = Field(ge=1, le=1000)


class RedriveAllowPolicy(_EdgeModel):
    """A dead-letter queue's policy on which source queues may use it.

    Args:
        redrive_permission: ``allowAll`` (the default on AWS), ``denyAll`` or
            ``byQueue``.
        source_queues: with ``byQueue``, 1-10 source queues (names, URLs or ARNs);
            none otherwise.
    """

    _aws_name = "RedriveAllowPolicy"

    redrive_permission: Literal["allowAll", "denyAll", "byQueue"] = "allowAll"
    source_queues: tuple[str, ...] = Field((), max_length=10)

    @model_validator(mode="after")
    def _sources_match_permission(self) -> Self:
        if self.redrive_permission == "byQueue" and not self.source_queues:
            raise InvalidAttributeValue(
                "Invalid value for the parameter RedriveAllowPolicy: byQueue needs 1-10 "
                "source queues in source_queues."
            )
        if self.redrive_permission != "byQueue" and self.source_queues:
            raise InvalidAttributeValue(
                "Invalid value for the parameter RedriveAllowPolicy: source_queues are "
                f"allowed only with byQueue, not with {self.redrive_permission}."
            )
        return self


class QueueConfig(_EdgeModel):
    """The attributes of a queue, as ``Bus.create_queue`` keywords (snake_case AWS names)."""

    visibility_timeout: int = Field(30, ge=0, le=43_200)
    delay_seconds: int = Field(0, ge=0, le=900)
    message_retention_period: int = Field(345_600, ge=60, le=1_209_600)
    maximum_message_size: int = Field(1_048_576, ge=1_024, le=1_048_576)
    receive_message_wait_time_seconds: int = Field(0, ge=0, le=20)
    redrive_policy: RedrivePolicy | None = None
    redrive_allow_policy: RedriveAllowPolicy | None = None
    fifo_queue: bool = False
    content_based_deduplication: bool = False
    deduplication_scope: Literal["queue", "messageGroup"] = "queue"
    fifo_throughput_limit: Literal["perQueue", "perMessageGroupId"] = "perQueue"
    policy: str | dict[str, Any] | None = None

    @model_validator(mode="after")
    def _fifo_rules(self) -> Self:
        if not self.fifo_queue:
            for key in _FIFO_ONLY:
                if key in self.model_fields_set:
                    raise InvalidAttributeName(
                        f"Unknown Attribute {_QUEUE_AWS_NAMES[key]}: it applies to FIFO "
                        "queues only."
                    )
        elif (
            self.fifo_throughput_limit == "perMessageGroupId"
            and self.deduplication_scope != "messageGroup"
        ):
            raise InvalidAttributeValue(
                "Invalid value for the parameter FifoThroughputLimit: perMessageGroupId is "
                "allowed only with DeduplicationScope messageGroup."
            )
        return self


class TopicConfig(_EdgeModel):
    """The attributes of a topic, as ``Bus.create_topic`` keywords."""

    _error = InvalidParameter
    _unknown = InvalidParameter

    fifo_topic: bool = False
    content_based_deduplication: bool = False
    display_name: str = Field("", max_length=100)

    @model_validator(mode="after")
    def _fifo_rules(self) -> Self:
        if not self.fifo_topic and "content_based_deduplication" in self.model_fields_set:
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: ContentBasedDeduplication applies to "
                "FIFO topics only."
            )
        return self

    def to_core(self) -> TopicSettings:
        """The core's form of these settings."""
        return TopicSettings(
            fifo_topic=self.fifo_topic,
            content_based_deduplication=self.content_based_deduplication,
            display_name=self.display_name,
        )
