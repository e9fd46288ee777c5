"""The same pipeline on SNS and SQS: only the Bus line differs from the local one.

    python examples/aws_backend.py              # a moto server it starts on 127.0.0.1
    AWS_ENDPOINT_URL=http://localhost:4566 python examples/aws_backend.py  # LocalStack...
    python examples/aws_backend.py --real-aws   # your account and default region

Needs ``pip install 'eventbus[aws]'`` (and ``moto flask flask-cors`` for the first
form). Against a real account it creates a topic and three queues named
``eventbus-example-<random>-*`` and deletes them at the end. Time is real here:
the poison order is retried after its 1-second visibility timeout, then SQS
itself moves it to the dead-letter queue.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio

from eventbus import Bus, LambdaContext, RedrivePolicy
from eventbus.aws import AwsBackend


async def main(endpoint_url: str | None, region: str = "us-east-1") -> dict[str, Any]:
    """Publish five orders, one of them poison; return what happened to them."""
    prefix = f"eventbus-example-{uuid.uuid4().hex[:8]}"
    attempts: Counter[str] = Counter()
    audited: list[str] = []

    async def fulfil(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """A Lambda handler with partial batch responses: the poison order fails."""
        failures = []
        for record in event["Records"]:
            order = json.loads(record["body"])
            attempts[order["id"]] += 1
            if order["kind"] == "poison":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def audit(event: dict[str, Any], context: LambdaContext) -> None:
        """A plain sync handler: it reads the SNS envelope."""
        audited.extend(json.loads(r["body"])["Message"] for r in event["Records"])

    # moto's counts are exact; SQS's lag, so run_until_idle waits for 10 quiet seconds.
    # Stopping a consumer lets its last long polls finish: short ones here, for a quick
    # demo; 20 s (the default) costs fewer requests.
    on_moto = endpoint_url is not None
    backend = AwsBackend(
        region,
        endpoint_url,
        poll_interval=0.2,
        idle_quiet_period=0.5 if on_moto else 10.0,
        long_poll_seconds=1 if on_moto else 20,
    )
    async with Bus(backend=backend) as bus:
        dlq = await bus.create_queue(f"{prefix}-orders-dlq")
        orders = await bus.create_queue(
            f"{prefix}-orders",
            visibility_timeout=1,
            redrive_policy=RedrivePolicy(dead_letter_queue=dlq.arn, max_receive_count=2),
        )
        audit_queue = await bus.create_queue(f"{prefix}-audit")
        topic = await bus.create_topic(f"{prefix}-order-events")
        try:
            await topic.subscribe(orders, raw_message_delivery=True)
            await topic.subscribe(audit_queue)
            for order_id in range(1, 6):
                kind = "poison" if order_id == 3 else "created"
                await topic.publish(
                    json.dumps({"id": order_id, "kind": kind}),
                    message_attributes={"kind": kind},
                )
            async with (
                bus.consume(orders, fulfil, function_timeout=1, report_batch_item_failures=True),
                bus.consume(audit_queue, audit),
            ):
                await bus.run_until_idle(max_time=60)
            dead = await dlq.receive(max_messages=10, wait_time_seconds=5)  # SQS: a long poll
            summary = {
                "attempts": dict(sorted(attempts.items())),
                "audited": len(audited),
                "dead_lettered": [json.loads(m.body)["id"] for m in dead],
            }
        finally:
            await topic.delete()
            for queue in (orders, audit_queue, dlq):
                await queue.delete_queue()
    print(f"attempts per order: {summary['attempts']}")
    print(f"audit saw {summary['audited']} envelopes")
    print(f"dead-lettered by SQS: orders {summary['dead_lettered']}")
    return summary


@contextlib.contextmanager
def endpoint(real_aws: bool) -> Iterator[str | None]:
    """Where to send the calls: AWS, the environment's endpoint, or a moto server."""
    if real_aws or os.environ.get("AWS_ENDPOINT_URL"):
        yield None  # botocore reads AWS_ENDPOINT_URL itself
        return
    from eventbus.testing import moto_server

    with moto_server() as url:
        print(f"moto server at {url}")
        yield url


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real-aws", action="store_true", help="use your AWS account")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    options = parser.parse_args()
    with endpoint(options.real_aws) as url:
        anyio.run(main, url, options.region)
