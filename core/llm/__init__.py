"""LLM gateway (litellm) and the deterministic offline model."""

import os

# litellm must not try to fetch its price list at import (no network here)
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
