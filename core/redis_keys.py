"""One prefix before every Redis key the platform writes: two deployments on one Redis share nothing.

Rate limits, caches, turn streams, bot drafts and nonce locks all live under
``<prefix>:...``. The prefix is the ``redis_prefix`` setting; without one it is
``impressox:<deployment id>``, the id generated once into ``<data_dir>/keys/deployment-id``, so every
process of one deployment (the same data dir) agrees on it and two stacks with different data dirs
never meet, even on one Temporal namespace and task queue. Processes that do not share a data dir
(containers) set ``IMPRESSOX_REDIS_PREFIX`` to one value for the whole deployment.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from core.keys import key_file, read_or_create

if TYPE_CHECKING:
    from core.settings import Settings

DEPLOYMENT_ID_FILE = "deployment-id"
#: the prefix of code that builds a store without settings (tools, tests of one component)
DEFAULT_PREFIX = "impressox"


def deployment_id(data_dir: Path) -> str:
    """This deployment's id: created once in the data dir, the same for every process using it."""
    return read_or_create(key_file(data_dir, DEPLOYMENT_ID_FILE), lambda: secrets.token_hex(6)).strip()


def redis_prefix(settings: Settings) -> str:
    """The prefix of every Redis key of this deployment (see the module's doc)."""
    if settings.redis_prefix:
        return settings.redis_prefix
    return f"{DEFAULT_PREFIX}:{deployment_id(settings.data_dir)}"
