"""Encryption at rest: featurized stores and model directories written encrypted under a key.

What molgraph writes about private molecules (a store's shards hold their SMILES and graphs, a
model's ``svm.npz`` and ``domain.npz`` the ECFP4 bits of its training molecules) is written
through :func:`sealed` / :func:`write_json` and read back through :func:`opened` /
:func:`read_bytes`. Without a key, files are written exactly as before (the same code path:
plain ``.npz``, ``.pt`` and JSON). With a key, each file is one AES-256-GCM message::

    MAGIC (23 bytes) | key id (8) | nonce (12) | ciphertext | tag (16)

AES-256-GCM rather than Fernet: a 256-bit key (Fernet's AES is 128-bit), binary files (Fernet's
tokens are base64, a third larger), and one fast AEAD pass (AES-NI) instead of AES-CBC plus
HMAC. The header (magic and key id) is authenticated too. The key id (8 bytes of a hash of the
key) lets a reader say "another key" rather than "damaged"; it reveals nothing about the key.
A random 96-bit nonce per file keeps the collision risk negligible for far more files than a
key will ever encrypt.

The key: 32 random bytes written as standard base64 (44 characters, what ``molgraph keygen``
and ``openssl rand -base64 32`` print), in a file (``--key-file``, :func:`encryption_key`
``key_file=``) or in the environment variable ``MOLGRAPH_KEY``; a key given explicitly wins
over the environment. Files without the magic header are read as plaintext whether or not a
key is active, so saved plaintext models keep working. molgraph never writes a key it is given:
worker processes it starts get it in memory (:func:`active_key` → :func:`inherit_key`); a Dask
cluster's workers are not sent it, they need ``MOLGRAPH_KEY`` in their own environment.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from molgraph.runtime.files import atomic_path, jsonable
from molgraph.runtime.files import write_json as write_plain_json

KEY_ENV = "MOLGRAPH_KEY"
KEY_BYTES = 32
MAGIC = b"molgraph:aes-256-gcm:1\n"
KEY_ID_BYTES = 8
NONCE_BYTES = 12
HEADER_BYTES = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES
TAG_BYTES = 16
_MAKE_ONE = "make one with `molgraph keygen --out FILE`"
#: keys set by :func:`encryption_key` (innermost last) and :func:`inherit_key`
_KEYS: list[bytes] = []


class EncryptionKeyError(ValueError):
    """A file cannot be read for want of the right key (not because it is damaged): callers
    that remove damaged files to make them again must not remove this one."""


def new_key() -> str:
    """A new random key as text (base64 of 32 bytes)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def write_key_file(path: str | Path) -> Path:
    """Write a new key to ``path``, readable by its owner only (mode 0600); an existing file is
    never overwritten (its key may be the only one that opens some files)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValueError(f"{path}: already exists; a key file is never overwritten (files "
                         "encrypted with it could not be read again): choose another path"
                         ) from None
    with os.fdopen(fd, "w") as handle:
        handle.write(new_key() + "\n")
    return path


def parse_key(text: str, source: str) -> bytes:
    """The 32 key bytes of ``text`` (base64, surrounding whitespace ignored); an error naming
    ``source`` (the file, or ``MOLGRAPH_KEY``) otherwise."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError(f"{source}: not a molgraph key (expected {KEY_BYTES} bytes as base64, "
                         f"44 characters); {_MAKE_ONE}")
    return key


def read_key_file(path: str | Path) -> bytes:
    """The key in the file ``path`` (see :func:`parse_key`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        text = ""
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such key file; check the path, or {_MAKE_ONE}"
                                ) from None
    return parse_key(text, str(path))


def _as_key(key: str | bytes) -> bytes:
    if isinstance(key, bytes) and len(key) == KEY_BYTES:
        return key
    text = key.decode("ascii", errors="replace") if isinstance(key, bytes) else key
    return parse_key(text, "the key given")


@contextmanager
def encryption_key(key: str | bytes | None = None,
                   key_file: str | Path | None = None) -> Iterator[bytes | None]:
    """Within the block, stores and model directories are written encrypted under the key, and
    encrypted ones are read with it. ``key``: base64 text (or the 32 raw bytes); ``key_file``:
    a file holding it. With neither, the block changes nothing (``MOLGRAPH_KEY`` still
    applies). Yields the key given (``None`` without one).

    Example::

        with molgraph.encryption_key(key_file="secret.key"):
            run = molgraph.train(config)
    """
    if key is not None and key_file is not None:
        raise ValueError("give the key or a key file, not both")
    chosen = read_key_file(key_file) if key_file is not None else (
        None if key is None else _as_key(key))
    if chosen is None:
        yield None
        return
    _KEYS.append(chosen)
    try:
        yield chosen
    finally:
        _KEYS.pop()


def active_key() -> bytes | None:
    """The key files are written with: the innermost :func:`encryption_key`, else
    ``MOLGRAPH_KEY`` (an error when it is set but malformed), else ``None`` (plaintext)."""
    if _KEYS:
        return _KEYS[-1]
    text = os.environ.get(KEY_ENV, "")
    return parse_key(text, KEY_ENV) if text.strip() else None


def inherit_key(key: bytes | None) -> None:
    """In a worker process: use ``key`` (the parent's :func:`active_key`, sent in memory) for
    the process's life. ``None`` leaves the process as it is (``MOLGRAPH_KEY``, if set, applies)."""
    if key is not None:
        _KEYS[:] = [key]


def key_id(key: bytes) -> bytes:
    """8 bytes that tell keys apart (a hash: they say nothing of the key)."""
    return hashlib.sha256(b"molgraph key id\0" + key).digest()[:KEY_ID_BYTES]


def is_encrypted(data: bytes) -> bool:
    """Whether ``data`` (a file's bytes, or its first bytes) is an encrypted molgraph file."""
    return data[:len(MAGIC)] == MAGIC


def encrypt(data: bytes, key: bytes) -> bytes:
    """``data`` as an encrypted file's bytes (see the module docstring)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = MAGIC + key_id(key)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, data, header)


def decrypt(data: bytes, path: str | Path) -> bytes:
    """The content of the file ``path`` whose bytes are ``data``: as it is when plaintext, else
    decrypted with the active key. Errors name ``path``: no key or another key
    (:class:`EncryptionKeyError`), damaged (``ValueError``)."""
    if not is_encrypted(data):
        return data
    key = active_key()
    if key is None:
        raise EncryptionKeyError(f"{path} is encrypted; give --key-file or {KEY_ENV}")
    if len(data) < HEADER_BYTES + TAG_BYTES:
        raise ValueError(f"{path}: encrypted file is damaged (truncated); copy it again")
    header = data[:len(MAGIC) + KEY_ID_BYTES]
    if header[len(MAGIC):] != key_id(key):
        raise EncryptionKeyError(f"{path} could not be decrypted with this key: it was "
                                 "encrypted with another key (wrong key or damaged file)")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(data[len(header):HEADER_BYTES], data[HEADER_BYTES:], header)
    except InvalidTag:
        raise ValueError(f"{path} could not be decrypted with this key: authentication failed "
                         "(the file was damaged or changed after it was written); copy it "
                         "again") from None


def read_bytes(path: str | Path) -> bytes:
    """The content of ``path``, decrypted when it is encrypted (see :func:`decrypt`)."""
    return decrypt(Path(path).read_bytes(), path)


@contextmanager
def sealed(path: str | Path) -> Iterator[Path | BinaryIO]:
    """Where to write the content of ``path``: without a key ``path`` itself (written exactly
    as before), with one an in-memory buffer encrypted into ``path`` when the block ends.

    Example::

        with sealed(directory / "svm.npz") as target:
            np.savez_compressed(target, bank=bits)
    """
    key = active_key()
    if key is None:
        yield Path(path)
        return
    buffer = io.BytesIO()
    yield buffer
    Path(path).write_bytes(encrypt(buffer.getvalue(), key))


def opened(path: str | Path) -> Path | BinaryIO:
    """What to read the content of ``path`` from (``np.load``, ``torch.load``): ``path`` when it
    is plaintext (or cannot be opened: the reader then says why in its own words), else an
    in-memory buffer of its decrypted content."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            plain = not is_encrypted(handle.read(len(MAGIC)))
    except OSError:
        return path
    return path if plain else io.BytesIO(read_bytes(path))


def write_json(path: str | Path, value: Any, indent: int | None = 2) -> Path:
    """``runtime.files.write_json``, encrypted when a key is active (atomically either way)."""
    key = active_key()
    if key is None:
        return write_plain_json(path, value, indent)
    text = json.dumps(jsonable(value), indent=indent, allow_nan=False, default=str)
    with atomic_path(path) as tmp:
        tmp.write_bytes(encrypt(text.encode("utf-8"), key))
    return Path(path)
