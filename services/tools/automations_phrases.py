"""How the offline model understands the schedule and alert tools (core/llm/phrasebook.py):

"every day at 9:00 send me the ETH price"        -> schedule_prompt(cron "0 9 * * *")
"every hour check my balance"                    -> schedule_prompt(every_seconds 3600)
"tell me when ETH goes above 4,000"              -> create_alert(price, above 4000)
"tell me if ETH moves more than 5% in an hour"   -> create_alert(price, move_pct 5, window 3600)
"watch wallet 0x… and tell me about incoming transfers" -> create_alert(wallet, in)
"list my alerts" / "list my schedules"           -> list_alerts / list_schedules
"stop the ETH alert"                             -> delete_alert("ETH")
"pause my morning report" / resume / delete      -> pause_schedule("morning report") ...
"""

from __future__ import annotations

import re
from typing import Any

from core.llm.phrasebook import PHRASEBOOK, Intent
from services.tools.chain_phrases import normalize_symbol

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\b")
#: every tool these phrasings call
TOOLS = (
    "schedule_prompt",
    "list_schedules",
    "pause_schedule",
    "resume_schedule",
    "delete_schedule",
    "create_alert",
    "list_alerts",
    "delete_alert",
)

_UNITS = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400, "week": 604800}
_DAYS = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6}
_DAYPART_HOURS = {"morning": 9, "noon": 12, "afternoon": 15, "evening": 18, "night": 21, "midnight": 0}
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "five": 5, "ten": 10, "fifteen": 15, "thirty": 30}
_NUM = r"\d[\d,]*(?:\.\d+)?"


def _number(text: str) -> str:
    return text.replace(",", "")


def _span_seconds(text: str) -> int | None:
    """'an hour' -> 3600, '30 minutes' -> 1800, '2h' -> 7200."""
    m = re.search(
        r"\b(\d+|a|an|one|two|three|five|ten|fifteen|thirty)?\s*(second|sec|minute|min|hour|hr|day|week)s?\b", text
    )
    if not m:
        m2 = re.search(r"\b(\d+)\s*([smhd])\b", text)
        if not m2:
            return None
        return int(m2.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m2.group(2)]
    count = m.group(1) or "1"
    n = int(count) if count.isdigit() else _WORD_NUMBERS[count]
    return n * _UNITS[m.group(2)]


def _clock(text: str) -> tuple[int, int] | None:
    """'9:00', '9am', '21:30', '7 pm', 'noon' -> (hour, minute)."""
    m = re.search(r"\bat\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?", text)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        suffix = (m.group(3) or "").replace(".", "")
        if suffix == "pm" and hour < 12:
            hour += 12
        if suffix == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60:
            return hour, minute
    for word, hour in _DAYPART_HOURS.items():
        if re.search(rf"\b(every|each|at|in the)\s+{word}\b", text):
            return hour, 0
    return None


def _schedule(text: str) -> tuple[dict[str, Any], str] | None:
    """The schedule a sentence asks for and the rest of it (the prompt), or None."""
    lowered = text.lower()
    m = re.match(
        r"^\s*(?:please\s+)?(every|each|daily|hourly|weekly)\b(.*?)(?:,\s*|\s+(?=(?:send|tell|check|show|give|remind|"
        r"what|how|get|report|list|post|fetch|look|summar\w*)\b))(.+)$",
        lowered,
    )
    if not m:
        return None
    head = f"{m.group(1)}{m.group(2)}"
    prompt = text[m.start(3) :].strip()
    spec: dict[str, Any] = {}
    day = next((d for d in _DAYS if re.search(rf"\b{d}s?\b", head)), None)
    clock = _clock(head)
    if m.group(1) == "hourly" or re.fullmatch(r"(every|each)\s+hour", head.strip()):
        spec["every_seconds"] = 3600
    elif day is not None:
        hour, minute = clock or (9, 0)
        spec["cron"] = f"{minute} {hour} * * {_DAYS[day]}"
    elif m.group(1) in ("daily",) or re.search(r"\b(day|morning|evening|night|noon|afternoon)\b", head) or clock:
        hour, minute = clock or (9, 0)
        spec["cron"] = f"{minute} {hour} * * *"
    elif m.group(1) == "weekly" or re.search(r"\bweek\b", head):
        hour, minute = clock or (9, 0)
        spec["cron"] = f"{minute} {hour} * * 1"
    elif (span := _span_seconds(head)) is not None:
        spec["every_seconds"] = span
    else:
        return None
    tz = re.search(r"\b([A-Z][a-z]+/[A-Za-z_]+)\b", text)
    if tz:
        spec["timezone"] = tz.group(1)
    return spec, prompt


def _price_alert(text: str) -> dict[str, Any] | None:
    lowered = text.lower()
    if not re.search(r"\b(tell|notify|alert|ping|let)\b.*\b(when|if|once)\b|\balert me\b", lowered):
        return None
    sym = re.search(r"\b(?:when|if|once)\s+([A-Za-z]{2,10})\b", text)
    if not sym or _ADDRESS.search(text):
        return None
    symbol = normalize_symbol(sym.group(1))
    move = re.search(rf"\bmoves?\s+(?:by\s+)?(?:more\s+than\s+|over\s+)?({_NUM})\s*%", lowered)
    if move:
        window = re.search(r"\b(?:in|within|over)\s+(.+)$", lowered[move.end() :])
        return {
            "kind": "price",
            "symbol": symbol,
            "move_pct": _number(move.group(1)),
            "window_seconds": (_span_seconds(window.group(1)) if window else None) or 3600,
        }
    m = re.search(rf"\b(above|over|exceeds|below|under|drops\s+below|falls\s+below|beneath)\s+\$?({_NUM})", lowered)
    if not m:
        return None
    side = "above" if m.group(1) in ("above", "over", "exceeds") else "below"
    return {"kind": "price", "symbol": symbol, side: _number(m.group(2))}


def _wallet_alert(text: str) -> dict[str, Any] | None:
    lowered = text.lower()
    addr = _ADDRESS.search(text)
    if not addr or not re.search(r"\b(watch|monitor|track|alert|notify|tell)\b", lowered):
        return None
    if re.search(r"\b(send|transfer|pay)\s+\d", lowered):
        return None
    incoming, outgoing = (
        re.search(r"\b(incoming|received?|deposits?|in)\b", lowered),
        re.search(r"\b(outgoing|sent|withdrawals?|out)\b", lowered),
    )
    direction = "both" if bool(incoming) == bool(outgoing) else ("in" if incoming else "out")
    token = re.search(r"\b(TUSD|USDC|USDT|DAI|WETH)\b", text)
    return {
        "kind": "wallet",
        "address": addr.group(0),
        "direction": direction,
        "token": token.group(1) if token else None,
    }


_ALERT_ID = re.compile(r"^(?:price\.[a-z][a-z0-9]{1,9}|wallet\.0x[0-9a-f]{40})\.[0-9a-z]+$")


def parse_automation_intent(text: str, available: set[str]) -> tuple[str, dict[str, Any]] | None:
    """(tool, args) for a schedule/alert request, if an available tool answers it."""
    lowered = text.lower().strip().rstrip("?.!")
    if "delete_alert" in available and _ALERT_ID.match(lowered):
        # the answer to "which alert do you mean? yours: price.ETH.… (…)": the offered id alone
        return "delete_alert", {"alert": text.strip().rstrip("?.!")}
    if "list_alerts" in available and re.search(r"\b(list|show|what are|which)\b.*\balerts\b", lowered):
        return "list_alerts", {}
    if "list_schedules" in available and re.search(
        r"\b(list|show|what are|which)\b.*\b(schedules|scheduled|reports)\b", lowered
    ):
        return "list_schedules", {}
    op = re.match(r"^(?:please\s+)?(stop|delete|remove|cancel|pause|resume|unpause|restart)\s+(.+)$", lowered)
    if op:
        verb, ref = op.group(1), re.sub(r"^(my|the|this|that)\s+", "", op.group(2)).strip()
        if (
            re.search(r"\balert\b", ref)
            and "delete_alert" in available
            and verb in ("stop", "delete", "remove", "cancel")
        ):
            return "delete_alert", {"alert": re.sub(r"\s*\balert\b", "", ref).strip() or ref}
        tool = {
            "pause": "pause_schedule",
            "resume": "resume_schedule",
            "unpause": "resume_schedule",
            "restart": "resume_schedule",
        }.get(verb, "delete_schedule")
        names_schedule = re.search(r"\b(schedules?|report|reminder|job|digest|update|check)\b|^schedule:", ref)
        if tool in available and names_schedule and not re.search(r"\balert\b", ref):
            return tool, {"schedule": ref}
    if "create_alert" in available:
        if (args := _wallet_alert(text)) is not None:
            return "create_alert", args
        if (args := _price_alert(text)) is not None:
            return "create_alert", args
    if "schedule_prompt" in available and (found := _schedule(text)) is not None:
        spec, prompt = found
        return "schedule_prompt", {"prompt": prompt, **spec}
    return None


# asked first: their sentences embed other requests ("every hour check my balance")
@PHRASEBOOK.understands(*TOOLS, order=10)
def _automations(text: str, available: set[str]) -> Intent | None:
    found = parse_automation_intent(text, available)
    return Intent(*found) if found else None


PHRASEBOOK.describe(
    "schedule_prompt", 'scheduled prompts ("every day at 9:00 send me the ETH price", "pause my morning report")'
)
PHRASEBOOK.describe("create_alert", 'price and wallet alerts ("tell me when ETH goes above 4,000", "list my alerts")')
