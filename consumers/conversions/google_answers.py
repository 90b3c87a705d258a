"""Google Ads answers as outcomes: a failed row's error code, and a request-level error body."""

import contextlib

import httpx

from consumers.conversions.outcomes import Outcome, retry_after

GOOGLE_DUPLICATE = {"ORDER_ID_ALREADY_IN_USE"}  # the order id is the order: a resend
GOOGLE_TAKEN = "CLICK_CONVERSION_ALREADY_EXISTS"  # maybe another order: click_slots.py
GOOGLE_ROW_RETRY = {
    "TOO_RECENT_EVENT",
    "TOO_RECENT_CONVERSION_ACTION",
    "DUPLICATE_CLICK_CONVERSION_IN_REQUEST",
    "DUPLICATE_ORDER_ID_IN_REQUEST",
}
GOOGLE_ALERT = {"NO_CONVERSION_ACTION_FOUND", "INVALID_CONVERSION_ACTION_TYPE",
                "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS", "CONVERSION_NOT_ENABLED",
                "CUSTOMER_NOT_ENABLED_ENHANCED_CONVERSIONS_FOR_LEADS"}  # fmt: skip
TOO_RECENT_DELAY = 6 * 3600.0


def row_outcome(code: str, message: str) -> Outcome:
    reason = f"google_{code}"
    if code in GOOGLE_DUPLICATE:
        return Outcome("duplicate", reason, message)
    if code == GOOGLE_TAKEN:
        return Outcome("taken", reason, message)
    if code.startswith("TOO_RECENT"):
        return Outcome("retry", reason, message, TOO_RECENT_DELAY)
    if code in GOOGLE_ROW_RETRY:
        return Outcome("retry", reason, message)
    return Outcome("dead", reason, message, alert=code in GOOGLE_ALERT)


def google_error(response: httpx.Response) -> tuple[str, str, float]:
    delay = retry_after(response)
    try:
        error = response.json()["error"]
        message = str(error.get("message", ""))
        code = ""
        for detail in error.get("details") or []:
            for item in detail.get("errors") or []:
                code = code or str(next(iter((item.get("errorCode") or {}).values()), ""))
                retry = ((item.get("details") or {}).get("quotaErrorDetails") or {}).get(
                    "retryDelay"
                ) or (item.get("details") or {}).get("retryDelay")
                if isinstance(retry, str) and retry.endswith("s"):
                    with contextlib.suppress(ValueError):
                        delay = max(delay, float(retry[:-1]))
        return code or str(error.get("status", "")), message, delay
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", response.text[:200], delay
