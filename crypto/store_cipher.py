"""The cipher that encrypts every stored event's state (AES-256-GCM or SM4-GCM).

Ciphertext layout (all integers big-endian)::

    0x01 | len(key_id):u8 | key_id (ASCII) | nonce (12 bytes) | ciphertext || tag (16 bytes)

The key id in the header lets old events stay readable after a rotation.
eventsourcing builds the cipher from its environment, so the keyring arrives as
JSON under ``TAIZHANG_STORE_KEYRING`` in the settings the application is given
(never from the process environment, never logged).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Cipher
from eventsourcing.utils import Environment

from crypto.keyring import AES_256_GCM, SM4_GCM, Keyring, StoreKey

FORMAT_VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
KEYRING_SETTING = "TAIZHANG_STORE_KEYRING"


class DecryptionError(ValueError):
    """A stored ciphertext could not be decrypted: damaged, moved, or a wrong key."""


class _Aead:
    """AES-GCM and SM4-GCM behind one encrypt/decrypt interface."""

    def __init__(self, key: StoreKey) -> None:
        self.key = key
        self._aes = AESGCM(key.secret) if key.algorithm == AES_256_GCM else None

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes | None) -> bytes:
        if self._aes is not None:
            return self._aes.encrypt(nonce, plaintext, aad)
        encryptor = _Cipher(algorithms.SM4(self.key.secret), modes.GCM(nonce)).encryptor()
        if aad:
            encryptor.authenticate_additional_data(aad)
        return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
        if self._aes is not None:
            return self._aes.decrypt(nonce, data, aad)
        body, tag = data[:-TAG_SIZE], data[-TAG_SIZE:]
        decryptor = _Cipher(algorithms.SM4(self.key.secret), modes.GCM(nonce, tag)).decryptor()
        if aad:
            decryptor.authenticate_additional_data(aad)
        return decryptor.update(body) + decryptor.finalize()


class KeyringCipher(Cipher):
    """Encrypts with the current key; decrypts with whichever key the header names."""

    def __init__(self, environment: Environment | Keyring) -> None:
        if isinstance(environment, Keyring):
            keyring = environment
        else:
            text = environment.get(KEYRING_SETTING)
            if not text:
                raise DecryptionError(f"{KEYRING_SETTING} is not set")
            keyring = Keyring.from_json(text, KEYRING_SETTING)
        self.keyring = keyring
        self._by_id = {k.key_id: _Aead(k) for k in keyring.keys}
        current = keyring.current
        self._current = self._by_id[current.key_id]
        key_id = current.key_id.encode("ascii")
        self._header = bytes([FORMAT_VERSION, len(key_id)]) + key_id

    def encrypt(self, plaintext: bytes, aad: bytes | None = None) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return self._header + nonce + self._current.encrypt(nonce, plaintext, aad)

    def decrypt(self, ciphertext: bytes, aad: bytes | None = None) -> bytes:
        key_id, nonce, body = split_ciphertext(ciphertext)
        aead = self._by_id.get(key_id)
        if aead is None:
            raise DecryptionError(f"no store key with id {key_id!r} in the keyring")
        try:
            return aead.decrypt(nonce, body, aad)
        except InvalidTag:
            raise DecryptionError(
                f"authentication failed with key {key_id!r}: wrong key or altered data"
            ) from None

    @property
    def algorithm(self) -> str:
        return self._current.key.algorithm

    @staticmethod
    def supported() -> tuple[str, str]:
        return (AES_256_GCM, SM4_GCM)


def split_ciphertext(ciphertext: bytes) -> tuple[str, bytes, bytes]:
    """(key id, nonce, ciphertext||tag) of a stored state, checking the layout."""
    if len(ciphertext) < 2 or ciphertext[0] != FORMAT_VERSION:
        raise DecryptionError("not a taizhang ciphertext (unknown format version)")
    id_len = ciphertext[1]
    start = 2 + id_len
    if len(ciphertext) < start + NONCE_SIZE + TAG_SIZE:
        raise DecryptionError("ciphertext is truncated")
    key_id = ciphertext[2:start].decode("ascii", errors="replace")
    return key_id, ciphertext[start : start + NONCE_SIZE], ciphertext[start + NONCE_SIZE :]


def key_id_of(ciphertext: bytes) -> str:
    """The id of the key that made a stored state (for ``taizhang keys list``)."""
    return split_ciphertext(ciphertext)[0]
