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
EXCLUSIVE_QUEUE = ("transient queue gone with its consumer's connection (an exclusive queue): its messages, and what "
                   "was published without confirms until the consumer declared it again")
