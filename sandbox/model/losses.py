"""Why a message was lost: the causes both engines file with `Measurements.lose`."""

DROPPED = "broker unavailable: fire-and-forget dropped the message"
WRITE_FAILED = "publish failed: the write answered 500 after the post was committed"
AUTO_ACK_DIED = "auto-acked message held by a consumer that died"
AUTO_ACK_FAILED = "handler failed on an auto-acked message"
IN_FLIGHT = "unconfirmed publish on the wire when the broker went down"
TRANSIENT_QUEUE = "transient queue deleted by the broker restart"
TRANSIENT_MESSAGE = "non-persistent message dropped by the broker restart"
NEVER_ARRIVED = "committed post whose message never reached the queue (the author died between commit and publish)"
UNROUTABLE = "published without confirms while the classic queue's node was down: unroutable, dropped"
NO_QUORUM = "published without confirms to a quorum queue that had lost its majority"
NO_QUEUE = "published while the exclusive transient queue did not exist (no consumer connected): unroutable, dropped"
REFUSED_UNCONFIRMED = ("published without confirms to a full queue (overflow reject-publish): refused, and the "
                       "publisher never heard")
RETRY_REFUSED = ("a retried message dead-lettered back into a full queue (overflow reject-publish): refused, and "
                 "dead-lettering has no publisher to tell")
EXCLUSIVE_GONE = "exclusive transient queue deleted with its consumer's connection"
NOT_ON_DISK = "published without confirms; the broker crashed before its batch reached the disk"

TAKEN = frozenset({AUTO_ACK_DIED, AUTO_ACK_FAILED, TRANSIENT_QUEUE, TRANSIENT_MESSAGE, EXCLUSIVE_GONE, NOT_ON_DISK,
                   RETRY_REFUSED})
"""Causes of losing a message the broker had taken (queued, and confirmed when confirms were on): the ones a
producer cannot know about. The others fail, or are dropped, before the queue ever holds the message."""
