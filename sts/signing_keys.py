"""Loading the PEM keys that configuration names, with errors that never echo a key."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from django.core.exceptions import ImproperlyConfigured as ConfigError

_KINDS: dict[str, tuple[type, ...]] = {
    "RSA": (rsa.RSAPrivateKey, rsa.RSAPublicKey),
    "EC": (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey),
    "Ed25519": (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey),
}


def load_private_key(name: str, pem: str, *, allowed: tuple[str, ...]) -> PrivateKeyTypes:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{name} is not an unencrypted PEM private key.") from None
    _check_kind(name, key, allowed)
    return key


def load_public_key(name: str, pem: str) -> PublicKeyTypes:
    """A public key from a public or a private PEM (an operator may keep either after a rotation)."""
    if "PRIVATE KEY" in pem:
        return load_private_key(name, pem, allowed=tuple(_KINDS)).public_key()
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise ConfigError(f"{name} holds something that is not a PEM key.") from None
    _check_kind(name, key, tuple(_KINDS))
    return key


def _check_kind(name: str, key: object, allowed: tuple[str, ...]) -> None:
    if not any(isinstance(key, _KINDS[kind]) for kind in allowed):
        raise ConfigError(f"{name} must be a key of kind {', '.join(allowed)}.")
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise ConfigError(f"{name} must use the P-256 curve when it is an EC key.")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size < 2048:
        raise ConfigError(f"{name} must be an RSA key of at least 2048 bits.")


def dev_session_key(var_dir: Path) -> str:
    """A development-only session key, made once and shared by every worker process through a file.

    Only reached when DEBUG is True: production refuses to start without a configured key.
    """
    path = var_dir / "dev-session-signing-key.pem"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(temporary, path)  # first writer wins; the others read its key
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text(encoding="utf-8")
