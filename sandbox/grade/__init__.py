"""Grading a learner's consumer under fire: the handler API, the tasks, the simulation, the live lab, the checker."""
