"""Payload codec: every payload in Temporal history is AES-GCM encrypted.

Chat text, personas, tool arguments and results stay out of reach of anyone who can read
Temporal (``temporal workflow show``, the Web UI without the codec endpoint). Each payload
is the serialized original payload encrypted with a fresh 96-bit nonce; its metadata names
the encoding (``binary/encrypted``) and the key id (``encryption-key-id``). Keys rotate:
the first key encrypts, every listed key decrypts. Payloads without the encrypted encoding
(histories recorded before the codec) pass through unchanged, unless the codec refuses plain
payloads (settings codec_refuse_plain, on by default): then a plain payload decodes to one of
the ``binary/refused-unencrypted`` encoding, which no converter reads, so a signal or update
sent in clear past the API (Temporal's CLI, the Web UI) is dropped or rejected by the SDK while
the workflow task goes on (a codec error would fail the whole task, again and again).

Keys are ``"<id>:<base64 key>"`` (16, 24 or 32 bytes), from settings (``IMPRESSOX_CODEC_KEYS``)
or else one per line in ``<data_dir>/keys/codec.key``, created on first use.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.errors import ConfigError
from core.keys import key_file, read_or_create
from core.settings import Settings

ENCODING = b"binary/encrypted"
#: what a refused plain payload decodes to (no payload converter reads it)
REFUSED = b"binary/refused-unencrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


@dataclass(frozen=True)
class CodecKey:
    key_id: str
    key: bytes

    @classmethod
    def parse(cls, text: str) -> CodecKey:
        key_id, sep, b64 = text.strip().partition(":")
        if not sep or not key_id:
            raise ConfigError("a codec key must read '<id>:<base64 key>'")
        try:
            key = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"codec key {key_id!r}: the key is not base64") from None
        if len(key) not in (16, 24, 32):
            raise ConfigError(f"codec key {key_id!r}: an AES key has 16, 24 or 32 bytes, not {len(key)}")
        return cls(key_id, key)

    @classmethod
    def generate(cls) -> CodecKey:
        return cls(f"k{secrets.token_hex(4)}", AESGCM.generate_key(bit_length=256))

    def __str__(self) -> str:  # the file format; never logged
        return f"{self.key_id}:{base64.b64encode(self.key).decode()}"


class CodecError(ValueError):
    """A payload cannot be decrypted: unknown key id, or tampered with."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Sequence[CodecKey], *, refuse_plain: bool = False) -> None:
        if not keys:
            raise ConfigError("the payload codec needs at least one key")
        #: plain payloads decode to REFUSED (readers of old plain histories leave it off)
        self.refuse_plain = refuse_plain
        self._encrypt_with = keys[0]
        self._ciphers = {k.key_id: AESGCM(k.key) for k in keys}

    @property
    def key_id(self) -> str:
        return self._encrypt_with.key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p, refuse_plain=self.refuse_plain) for p in payloads]

    async def decode_for_reading(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decode for display (the /codec endpoint): plain payloads, e.g. patch markers, pass through."""
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._encrypt_with.key_id
        nonce = os.urandom(NONCE_BYTES)
        # the key id is authenticated data: relabelling a payload with another key id fails
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload, *, refuse_plain: bool = False) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            if refuse_plain:
                original = payload.metadata.get("encoding", b"")
                return Payload(metadata={"encoding": REFUSED, "refused-encoding": original})
            return payload  # plain (recorded before the codec): passes through
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(f"payload encrypted with unknown key id {key_id!r}")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise CodecError(f"payload (key id {key_id!r}) failed authentication: tampered with") from None
        return Payload.FromString(plain)


def codec_keys(settings: Settings) -> list[CodecKey]:
    """The configured keys, else the data dir's key file (created on first use)."""
    if settings.codec_keys:
        return [CodecKey.parse(k.get_secret_value()) for k in settings.codec_keys]
    text = read_or_create(key_file(settings.data_dir, "codec.key"), lambda: f"{CodecKey.generate()}\n")
    return [CodecKey.parse(line) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def build_codec(settings: Settings) -> EncryptionCodec | None:
    if not settings.codec_enabled:
        return None
    return EncryptionCodec(codec_keys(settings), refuse_plain=settings.codec_refuse_plain)


def decode_history_json(codec: EncryptionCodec, history_json: str) -> str:
    """A history as ``temporal workflow show -o json`` prints it, with every payload decrypted."""

    def walk(node: object) -> object:
        if isinstance(node, dict):
            if "data" in node and "metadata" in node and isinstance(node["metadata"], dict):
                payload = json_format.ParseDict(node, Payload())
                if payload.metadata.get("encoding") == ENCODING:
                    return json_format.MessageToDict(codec.decrypt(payload))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(json.loads(history_json)))
