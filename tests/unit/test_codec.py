"""The payload codec: what it writes is unreadable without a key, rotates keys, detects
tampering, and lets the plain payloads of pre-codec histories through."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from core.errors import ConfigError
from core.settings import load_settings
from core.temporal.client import PLAIN_DATA_CONVERTER, data_converter
from core.temporal.codec import ENCODING, KEY_ID, CodecError, CodecKey, EncryptionCodec, build_codec, codec_keys

TEXT = "send 0.01 ETH to bob, my secret plan"


def plain(text: str = TEXT) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_roundtrip_hides_the_text_and_gives_it_back() -> None:
    codec = EncryptionCodec([CodecKey.generate()])
    [sealed] = await codec.encode([plain()])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID].decode() == codec.key_id
    assert b"secret" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [plain()]


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec([CodecKey.generate()])
    a, b = await codec.encode([plain(), plain()])
    assert a.data != b.data


async def test_rotation_first_key_encrypts_every_key_decrypts() -> None:
    old, new = CodecKey.generate(), CodecKey.generate()
    [by_old] = await EncryptionCodec([old]).encode([plain("before")])
    rotated = EncryptionCodec([new, old])
    [by_new] = await rotated.encode([plain("after")])
    assert by_new.metadata[KEY_ID].decode() == new.key_id
    assert await rotated.decode([by_old, by_new]) == [plain("before"), plain("after")]
    with pytest.raises(CodecError, match="unknown key id"):
        await EncryptionCodec([new]).decode([by_old])  # a retired key's payloads need the old key listed


@pytest.mark.parametrize("where", ["data", "nonce", "key id"])
async def test_tampering_is_detected(where: str) -> None:
    a, b = CodecKey.generate(), CodecKey.generate()
    codec = EncryptionCodec([a, b])
    [sealed] = await codec.encode([plain()])
    if where == "data":
        sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    elif where == "nonce":
        sealed.data = bytes([sealed.data[0] ^ 1]) + sealed.data[1:]
    else:  # relabelled as the other key: the key id is authenticated too
        sealed.metadata[KEY_ID] = b.key_id.encode()
    with pytest.raises(CodecError):
        await codec.decode([sealed])


async def test_plain_payloads_pass_through_decoding() -> None:
    codec = EncryptionCodec([CodecKey.generate()])
    old = [plain(), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(old) == old


def test_bad_keys_are_refused_at_start_up() -> None:
    for text in ("nokey", ":AAAA", "k1:not base64!", "k1:" + "A" * 8):
        with pytest.raises(ConfigError):
            CodecKey.parse(text)


def test_the_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    first = codec_keys(settings)
    path = tmp_path / "keys" / "codec.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert codec_keys(settings) == first  # every process of the stack reads the same key
    # rotation in the file: a new first line encrypts, the old line still decrypts
    new = CodecKey.generate()
    path.write_text(f"{new}\n{path.read_text()}")
    assert codec_keys(settings) == [new, *first]


def test_keys_from_settings_win_over_the_file(tmp_path: Path) -> None:
    key = CodecKey.generate()
    settings = load_settings(data_dir=tmp_path, codec_keys=[str(key)])
    assert codec_keys(settings) == [key]
    assert not (tmp_path / "keys" / "codec.key").exists()
    assert str(key.key) not in repr(settings)  # SecretStr: never printed


def test_the_converter_encrypts_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    assert data_converter(load_settings(data_dir=tmp_path)).payload_codec is not None
    assert build_codec(load_settings(data_dir=tmp_path, codec_enabled=False)) is None
    assert data_converter(load_settings(data_dir=tmp_path, codec_enabled=False)) is PLAIN_DATA_CONVERTER


async def test_a_codec_that_refuses_plain_payloads_decodes_them_to_an_unreadable_encoding() -> None:
    strict = EncryptionCodec([CodecKey.generate()], refuse_plain=True)
    [sealed] = await strict.encode([plain()])
    refused, opened = await strict.decode([plain(), sealed])
    assert opened == plain()  # encrypted ones still decode
    assert refused.metadata["encoding"] == b"binary/refused-unencrypted" and refused.data == b""
    assert refused.metadata["refused-encoding"] == b"json/plain"
    with pytest.raises(KeyError, match="refused-unencrypted"):  # no converter reads it
        PLAIN_DATA_CONVERTER.payload_converter.from_payloads([refused], [str])
    # shown as recorded (the /codec endpoint, old plain histories): plain ones pass
    assert await strict.decode_for_reading([plain()]) == [plain()]
