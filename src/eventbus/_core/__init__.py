"""The sans-I/O core: pure, synchronous state machines for SQS queues and SNS topics.

Nothing here does I/O, reads a clock, draws randomness or logs: every call that
depends on time takes ``now`` (epoch seconds), identifiers come from an injected
:class:`IdSource`, and what happened is returned as data.
"""
