"""The one error type the query library raises for bad input (the HTTP layer maps it to 400)."""


class BadParameter(ValueError):
    """A report parameter is unknown, out of range or unsafe; the message says which and why."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
