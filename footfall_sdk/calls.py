"""Segment's six calls (track, identify, page, screen, group, alias) for any sender."""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from footfall_sdk.messages import build_message

R = TypeVar("R")
Props = Mapping[str, Any] | None


class TrackingCalls(ABC, Generic[R]):
    """Builds the message (messageId + timestamp now, request id from the context) and hands it
    to `_submit`: the HTTP client enqueues it, the Kafka producer sends it."""

    @abstractmethod
    def _submit(self, message: dict[str, Any]) -> R: ...

    def _call(
        self,
        message_type: str,
        fields: dict[str, Any],
        anonymous_id: str | None,
        user_id: str | None,
        context: Props,
        integrations: Props,
        timestamp: datetime | None,
        message_id: str | None,
    ) -> R:
        fields["integrations"] = dict(integrations) if integrations is not None else None
        return self._submit(
            build_message(
                message_type,
                anonymous_id=anonymous_id,
                user_id=user_id,
                fields=fields,
                context=context,
                timestamp=timestamp,
                message_id=message_id,
            )
        )

    def track(
        self,
        event: str,
        properties: Props = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        context: Props = None,
        integrations: Props = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
    ) -> R:
        fields = {"event": event, "properties": _dict(properties)}
        return self._call(
            "track", fields, anonymous_id, user_id, context, integrations, timestamp, message_id
        )

    def identify(
        self,
        user_id: str | None = None,
        traits: Props = None,
        *,
        anonymous_id: str | None = None,
        context: Props = None,
        integrations: Props = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
    ) -> R:
        fields = {"traits": _dict(traits)}
        return self._call(
            "identify", fields, anonymous_id, user_id, context, integrations, timestamp, message_id
        )

    def page(
        self,
        name: str | None = None,
        properties: Props = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        context: Props = None,
        integrations: Props = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
    ) -> R:
        fields = {"name": name, "properties": _dict(properties)}
        return self._call(
            "page", fields, anonymous_id, user_id, context, integrations, timestamp, message_id
        )

    def screen(
        self,
        name: str | None = None,
        properties: Props = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        context: Props = None,
        integrations: Props = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
    ) -> R:
        fields = {"name": name, "properties": _dict(properties)}
        return self._call(
            "screen", fields, anonymous_id, user_id, context, integrations, timestamp, message_id
        )

    def group(
        self,
        group_id: str,
        traits: Props = None,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        context: Props = None,
        integrations: Props = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
    ) -> R:
        fields = {"groupId": group_id, "traits": _dict(traits)}
        return self._call(
            "group", fields, anonymous_id, user_id, context, integrations, timestamp, message_id
        )

    def alias(
        self,
        previous_id: str,
        user_id: str,
        *,
        context: Props = None,
        integrations: Props = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
    ) -> R:
        fields = {"previousId": previous_id}
        return self._call(
            "alias", fields, None, user_id, context, integrations, timestamp, message_id
        )


def _dict(value: Props) -> dict[str, Any] | None:
    return dict(value) if value is not None else None
