"""The one error the model raises for bad input: it names the file, the field and what is allowed."""


class ScenarioError(ValueError):
    """A scenario (or a value in one) is not valid."""

    def __init__(self, source: str, field: str, problem: str):
        self.source = source
        self.field = field
        self.problem = problem
        where = f"{source}: " if source else ""
        at = f"{field}: " if field else ""
        super().__init__(f"{where}{at}{problem}")
