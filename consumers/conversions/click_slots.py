"""Google click seconds: one conversion per (click, conversionDateTime, action), whole seconds.

Two different orders on one click in the same second would collide: in one request the second gets
DUPLICATE_CLICK_CONVERSION_IN_REQUEST, across requests CLICK_CONVERSION_ALREADY_EXISTS, and taking
that as "delivered" loses an order. So before a batch goes out each row with a click id gets a
second that no other order holds, claimed in the ledger (`claim|account|click|action|time` ->
order, acked before the request): the purchase's own second, else the next free one (the
conversion is reported up to MAX_SHIFT seconds later, never later than now, still after the click
and inside its window). A resend of the same order finds its own claim and uses the same second.

CLICK_CONVERSION_ALREADY_EXISTS on a claimed second means a conversion this ledger does not know
(uploaded by other means, or our own accepted row whose answer was lost) holds it: the claim is
marked foreign and the row moves to the next free second. Google's orderId uniqueness then tells
the two apart: our own order answers ORDER_ID_ALREADY_IN_USE (delivered), any other is accepted.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from consumers.conversions.ledger import Ledger
from consumers.conversions.platforms import google_datetime
from consumers.conversions.tasks import Task

CLAIM = "claim"
FOREIGN = ""  # the order of a second held by a conversion outside this ledger
MAX_SHIFT = 60
GOOGLE_TIME = "%Y-%m-%d %H:%M:%S%z"


@dataclass
class Assigned:
    ready: list[Task] = field(default_factory=list)  # send now
    later: list[Task] = field(default_factory=list)  # the next free second is still ahead
    full: list[Task] = field(default_factory=list)  # MAX_SHIFT seconds all held: dead-letter


class ClickSlots:
    def __init__(self, ledger: Ledger, account: str) -> None:
        self.ledger = ledger
        self.account = account

    def _key(self, task: Task, when: str) -> str | None:
        row = task.payload or {}
        click = row.get("gclid") or row.get("gbraid") or row.get("wbraid")
        if not click:
            return None
        return f"{CLAIM}|{self.account}|{click}|{row.get('conversionAction')}|{when}"

    def _owner(self, name: str, batch: dict[str, dict[str, object]]) -> object:
        entry = batch.get(name) or self.ledger.entries.get(name)
        return None if entry is None else entry.get("order")

    def assign(self, tasks: list[Task], now: datetime) -> Assigned:
        """Give each task its second; the new claims are written (acked) before this returns
        (LedgerUnavailable otherwise: then nothing may be sent)."""
        out = Assigned()
        claims: dict[str, dict[str, object]] = {}
        for task in tasks:
            payload = task.payload or {}
            task.base_time = task.base_time or str(payload.get("conversionDateTime", ""))
            if self._key(task, task.base_time) is None:
                out.ready.append(task)  # no click id: no click second to share
                continue
            found = self._free(task, claims, now)
            if found is None:
                out.full.append(task)
            elif not found[0]:
                out.later.append(task)
            else:
                task.slot, payload["conversionDateTime"] = found
                out.ready.append(task)
        if claims:
            self.ledger.record(claims)
        return out

    def _free(
        self, task: Task, claims: dict[str, dict[str, object]], now: datetime
    ) -> tuple[str, str] | None:
        """(claim, time) of the first second from the purchase's own that is this order's or
        free; ("", "") when that second is still ahead; None when all MAX_SHIFT are held."""
        base = datetime.strptime(task.base_time, GOOGLE_TIME)
        for shift in range(MAX_SHIFT + 1):
            at = base + timedelta(seconds=shift)
            when = google_datetime(at)
            name = self._key(task, when) or ""
            owner = self._owner(name, claims)
            if owner is not None and owner != task.ledger_key:
                continue  # held by another order, or by a conversion outside the ledger
            if shift and at > now:
                return "", ""  # never report a conversion in the future: wait for it
            if owner is None:
                claims[name] = {"status": CLAIM, "order": task.ledger_key}
            return name, when
        return None

    def foreign(self, task: Task) -> None:
        """Google holds the task's second for a conversion this ledger does not know."""
        if task.slot:
            self.ledger.record({task.slot: {"status": CLAIM, "order": FOREIGN}})
            task.slot = ""
