"""LLM gateway (litellm) and the deterministic offline model.

Nothing here acts on import: a process calls :func:`setup_litellm` (the worker does, through
``LLMGateway``; tests do in conftest) before it talks to a model.
"""

from __future__ import annotations

import logging
import os
import sys
from types import ModuleType

from core.llm.provider import OFFLINE_PROVIDER

log = logging.getLogger(__name__)


_ready = False


def setup_litellm() -> ModuleType:
    """Import and configure litellm for this process, once (idempotent); returns the module.

    - litellm reads its price list at import: ``LITELLM_LOCAL_MODEL_COST_MAP`` makes it use the copy it
      ships instead of fetching one (code never downloads at run time), so it must be set before the
      first ``import litellm``; that is why litellm is imported here and nowhere at module level;
    - no telemetry and no debug banner;
    - the offline model registered as the ``offline`` provider.
    """
    global _ready
    if "litellm" not in sys.modules:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    elif not _ready and os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP", "").lower() != "true":
        log.warning("litellm was imported before setup_litellm(): it may have fetched its price list")
    import litellm

    if not _ready:
        from core.llm import offline

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        offline.register()
        _ready = True
    return litellm


__all__ = ["OFFLINE_PROVIDER", "setup_litellm"]
