"""The SimPy engine: a deterministic discrete-event model of both architectures."""
