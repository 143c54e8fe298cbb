"""What the broker the live lab measured means for what the lessons teach: its version, read from the server
properties it sends on connecting ("RabbitMQ 3.10.8"), said against the 4.x the lessons teach."""

from __future__ import annotations

import re


def broker_note(identity: str) -> str:
    """One sentence on how this broker differs from what the lessons teach; "" for a broker it cannot place."""
    found = re.search(r"RabbitMQ (\d+)\.(\d+)", identity)
    if found is None:
        return ""
    major, minor = int(found.group(1)), int(found.group(2))
    if major < 4:
        return (f"The lessons teach RabbitMQ 4.x and say where 3.13 differs; on this {major}.{minor} broker a quorum "
                "queue has no delivery limit unless one is set, and consumer_timeout closes the consumer's channel.")
    if (major, minor) < (4, 3):
        return (f"RabbitMQ {major}.{minor}: a quorum queue limits deliveries to 20 by default and every return counts "
                "toward it; transient non-exclusive queues are deprecated (the lab declares none).")
    return (f"RabbitMQ {major}.{minor}: only a reject or a lost connection counts toward a quorum queue's delivery "
            "limit, not a nack or a consumer timeout; transient non-exclusive queues are refused (the lab declares "
            "none).")
