"""Print the API's OpenAPI schema (from ``api.app.create_app``) for openapi-typescript.

Building the app reads agents and tools but connects to nothing (that happens in its lifespan).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from api.app import create_app
from core.settings import Settings

if __name__ == "__main__":
    schema = create_app(Settings()).openapi()
    Path(sys.argv[1]).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
