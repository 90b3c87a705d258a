"""The baseline: a bare ASGI app on the same uvicorn settings that reads the body and answers.

Requests per second against it, measured in the same run, is the denominator of the API's ratio.
"""

from typing import Any

Scope = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b'{"success":true,"accepted":1}'})
