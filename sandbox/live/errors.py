"""The one error family the live lab raises for what a user can fix: the message says what to do."""


class LabError(RuntimeError):
    """A server missing or refusing us, a port in use, a service that would not start."""
