"""DeliveryPlugin: what a chat platform's delivery worker registers (its one ``deliver`` activity), as a
Temporal plugin beside the platform's ImpressoxPlugin (temporal/plugin.py), so each bot builds its worker
the same way and the recorded histories' delivery worker (tests/histories/record.py) is that worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.plugin import SimplePlugin


class DeliveryPlugin(SimplePlugin):
    def __init__(self, deliver: Callable[..., Any]) -> None:
        super().__init__("impressox.DeliveryPlugin", activities=[deliver])
