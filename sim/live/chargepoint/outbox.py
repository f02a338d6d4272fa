"""What a simulated charger queues for the CSMS: calls built when sent, and its transactions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.domain.sessions import Session


@dataclass
class TxRecord:
    """One transaction as the charger knows it; in 1.6 the CSMS's id arrives with StartTransaction.conf."""

    local_id: str
    id_tag: str
    session: Session
    start_s: float
    csms_id: str | None = None  # 1.6: StartTransaction.conf transactionId; 2.0.1: = local_id
    seq_no: int = 0  # 2.0.1 TransactionEvent seqNo
    reservation_id: int | None = None  # the reservation this transaction used (its id tag's)

    def next_seq(self) -> int:
        self.seq_no += 1
        return self.seq_no - 1


@dataclass
class Outgoing:
    """A call waiting in the outbox. ``build`` makes the payload when it is sent (so a 1.6 message
    can name a transaction id that arrived after it was queued); None drops it."""

    build: Callable[[], Any]
    on_result: Callable[[Any], None] | None = None
    attempts: int = 0
