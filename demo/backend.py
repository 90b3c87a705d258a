"""The shop's back end: sign-up and checkout, each sending its own server-side events.

They go through footfall_sdk's Client with the SERVER key: "Order Completed" is a server-only
event the API refuses from a browser key, so a visitor cannot forge a purchase. The request
middleware makes the browser's X-Request-ID (the tracker's anonymous id) the current request
id; passing it as anonymousId joins these events to the visitor's browser events.
"""

import hashlib
import uuid
from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from demo.catalog import BY_SLUG
from footfall_sdk import Client, current_request_id

SEEN_LIMIT = 1000  # request ids kept for GET /api/_seen_request_ids (tests, curious newcomers)


class Backend:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.seen: deque[dict[str, str | None]] = deque(maxlen=SEEN_LIMIT)

    def _note(self, request: Request) -> str | None:
        header = request.headers.get("x-request-id")
        self.seen.append({"path": request.url.path, "requestId": header})
        return current_request_id()

    async def register(self, request: Request) -> JSONResponse:
        visitor = self._note(request)
        body = await _json(request)
        email = str(body.get("email") or "").strip().lower()
        if "@" not in email:
            return JSONResponse({"error": "a valid email is required"}, 400)
        # A stable user id that is not the email itself. The email goes in the server-side
        # identify's traits: sent with the server key, it is what the conversions uploader
        # matches a purchase on (hashed); a browser key's traits are not (SECURITY.md).
        user_id = "user-" + hashlib.sha256(email.encode()).hexdigest()[:16]
        traits = {"plan": "free", "name": str(body.get("name") or "")[:100], "email": email}
        self.client.identify(user_id, traits, anonymous_id=visitor)
        self.client.track(
            "Signed Up", {"plan": "free", "method": "email"}, user_id=user_id, anonymous_id=visitor
        )
        return JSONResponse({"userId": user_id})

    async def checkout(self, request: Request) -> JSONResponse:
        visitor = self._note(request)
        body = await _json(request)
        product = BY_SLUG.get(str(body.get("slug") or ""))
        if product is None:
            return JSONResponse({"error": "unknown product"}, 404)
        user_id = body.get("userId")
        order_id = f"ord-{uuid.uuid4().hex[:12]}"
        properties = {
            "order_id": order_id,
            "revenue": product.price,
            "currency": "EUR",
            "products": [{"product_id": product.slug, "name": product.name,
                          "price": product.price, "quantity": 1}],
        }  # fmt: skip
        self.client.track(
            "Order Completed",
            properties,
            user_id=str(user_id) if isinstance(user_id, str) and user_id else None,
            anonymous_id=visitor,
            message_id=f"order-{order_id}",  # one purchase, one event, however often it is sent
        )
        return JSONResponse({"orderId": order_id, "revenue": product.price, "currency": "EUR"})

    async def seen_request_ids(self, request: Request) -> JSONResponse:
        return JSONResponse({"seen": list(self.seen)})


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
