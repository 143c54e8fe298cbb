"""The lab's processes and their cleanup: the supervisor, ports, timers, run records and the sweep of dead runs."""
