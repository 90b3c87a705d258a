"""The one error type handlers raise; the app turns it into a JSON answer with its status."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"success": False, "code": self.code, "message": self.message, **self.details}
