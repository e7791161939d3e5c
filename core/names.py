"""The shape of a user name (API-key users, session owners, platforms), defined once."""

from __future__ import annotations

import re

#: letters, digits and ``_ . @ -``, 1 to 64 characters: safe inside workflow ids (``web:<user>:<n>``)
USER_NAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
USER_NAME = re.compile(USER_NAME_PATTERN)
