"""Build AsyncWeb3 clients, and map web3/RPC exceptions to core.errors in ONE place.

Every chain call in this package runs inside :func:`chain_errors`, so callers above see only
the domain errors: ChainRevertError (permanent; carries the decoded custom error name, e.g.
``LimitExceeded``) and ChainUnavailableError (transient; Temporal retries it). web3's own HTTP
retries are turned off because Temporal owns retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import aiohttp
from eth_abi import decode as abi_decode
from eth_utils import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3 import exceptions as w3x

from chain.artifacts import BUILD_DIR, artifact_names, load_artifact
from core.errors import BadInputError, ChainRevertError, ChainUnavailableError, ImpressoxError

DEFAULT_TIMEOUT_SECONDS = 10.0


def make_web3(rpc_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> AsyncWeb3:
    """An AsyncWeb3 over HTTP with a request timeout and no hidden retries."""
    provider = AsyncHTTPProvider(
        rpc_url,
        request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
        exception_retry_configuration=None,
    )
    return AsyncWeb3(provider)


async def close_web3(w3: AsyncWeb3) -> None:
    """Close the provider's aiohttp session (else aiohttp warns at exit)."""
    try:
        await w3.provider.disconnect()
    except Exception:  # noqa: BLE001 - closing is best effort; nothing to report to the caller
        pass


class RevertInfo:
    """A decoded revert: the custom error's name and its arguments."""

    def __init__(self, name: str, args: tuple[Any, ...]) -> None:
        self.name = name
        self.args = args

    def __str__(self) -> str:
        shown = ", ".join(_show(a) for a in self.args)
        return f"{self.name}({shown})"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


@cache
def _error_selectors() -> dict[bytes, tuple[str, list[str]]]:
    """selector -> (name, arg types) for every custom error in the committed artifacts."""
    table: dict[bytes, tuple[str, list[str]]] = {
        bytes.fromhex("08c379a0"): ("Error", ["string"]),
        bytes.fromhex("4e487b71"): ("Panic", ["uint256"]),
    }
    for name in artifact_names(BUILD_DIR):
        for item in load_artifact(name).abi:
            if item.get("type") != "error":
                continue
            types = [_abi_type(i) for i in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            table[selector] = (item["name"], types)
    return table


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return param["type"]


def decode_revert(data: Any) -> RevertInfo | None:
    """Decode revert data (hex string or bytes) into a custom error, if it is a known one."""
    if isinstance(data, dict):  # some nodes nest it: {"data": "0x..."}
        data = data.get("data")
    if isinstance(data, str):
        text = data.split(" ")[-1]  # "Reverted 0x..." form
        try:
            data = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            return None
    if not isinstance(data, bytes | bytearray) or len(data) < 4:
        return None
    known = _error_selectors().get(bytes(data[:4]))
    if known is None:
        return RevertInfo("UnknownError", ("0x" + bytes(data).hex(),))
    name, types = known
    try:
        args = tuple(abi_decode(types, bytes(data[4:]))) if types else ()
    except Exception:  # noqa: BLE001 - undecodable arguments still leave a useful name
        args = ()
    return RevertInfo(name, args)


def revert_error(action: str, info: RevertInfo | None, detail: str = "") -> ChainRevertError:
    """A ChainRevertError whose message starts with the error name; ``.error_name`` carries it too."""
    name = info.name if info else "Reverted"
    message = f"{action} reverted: {info}" if info else f"{action} reverted{': ' + detail if detail else ''}"
    err = ChainRevertError(message)
    err.error_name = name
    return err


# Node messages that mean "the node refused this request" (retrying the same request cannot help).
_REJECTION_HINTS = (
    "insufficient funds",
    "invalid",
    "intrinsic gas",
    "exceeds block gas limit",
    "gas too low",
)

_UNAVAILABLE = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    TimeoutError,
    ConnectionError,
    OSError,
    w3x.ProviderConnectionError,
    w3x.RequestTimedOut,
    w3x.TooManyRequests,
    w3x.TimeExhausted,
    w3x.BadResponseFormat,
)


def rpc_message(exc: BaseException) -> str:
    """The node's own error message of a failed JSON-RPC call (or the exception's text)."""
    if isinstance(exc, w3x.Web3RPCError):
        error = (exc.rpc_response or {}).get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        return str(exc.message)
    return str(exc)


def to_domain_error(exc: BaseException, action: str) -> ImpressoxError | None:
    """Map one web3/RPC/transport exception to a domain error; None if it is not one of ours."""
    if isinstance(exc, ImpressoxError):
        return exc
    if isinstance(exc, w3x.InvalidAddress):
        return BadInputError(f"{action}: invalid address {exc.args[-1]!r}")
    if isinstance(exc, w3x.ContractLogicError):
        info = decode_revert(exc.data)
        return revert_error(action, info, str(exc.message or ""))
    if isinstance(exc, w3x.Web3RPCError):
        rpc_error: object = (exc.rpc_response or {}).get("error") or {}
        message = rpc_message(exc)
        if isinstance(rpc_error, dict) and "revert" in message.lower():
            return revert_error(action, decode_revert(rpc_error.get("data")), message)
        if any(h in message.lower() for h in _REJECTION_HINTS):
            err = ChainRevertError(f"{action} rejected by the node: {message}")
            err.error_name = "Rejected"
            return err
        return ChainUnavailableError(f"{action} failed at the node: {message}")
    if isinstance(exc, _UNAVAILABLE):
        return ChainUnavailableError(f"{action}: chain node unavailable ({type(exc).__name__}: {exc})")
    return None


@contextmanager
def chain_errors(action: str) -> Iterator[None]:
    """Run a block of chain calls; re-raise web3/transport failures as domain errors."""
    try:
        yield
    except ImpressoxError:
        raise
    except Exception as exc:
        mapped = to_domain_error(exc, action)
        if mapped is None:
            raise
        raise mapped from exc
