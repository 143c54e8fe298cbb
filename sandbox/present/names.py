"""How variants are named on screen: a heading says the architecture only when the name does not."""

from __future__ import annotations


def variant_title(name: str, architecture: str) -> str:
    """"sync" for the variant sync, "queue-outbox" for queue-outbox, "mine (queue)" for a variant called mine."""
    return name if name.startswith(architecture) else f"{name} ({architecture})"
