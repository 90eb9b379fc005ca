"""Key material of the simulator: the App key, the OIDC issuer keys, and a CA + HTTPS server certificate.

Everything lives as PEM files in the state directory so a standalone simulator keeps the same App key
and CA across restarts (the server under test is configured with them once).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def load_or_create_rsa(
    path: Path, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8
) -> rsa.RSAPrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} is not an RSA key")
        return key
    key = new_rsa_key()
    _write_private(path, private_pem(key, fmt))
    return key


@dataclass(frozen=True)
class OidcKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def pem(self) -> str:
        return private_pem(self.private_key).decode("ascii")

    def jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
            "x5t": self.kid,
        }


def new_oidc_key() -> OidcKey:
    key = new_rsa_key()
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # GitHub's kids look like a base64url SHA-1 thumbprint; a fresh random suffix keeps rotations distinct.
    thumb = hashlib.sha1(der + secrets.token_bytes(8)).digest()
    return OidcKey(kid=base64.urlsafe_b64encode(thumb).rstrip(b"=").decode("ascii"), private_key=key)


class OidcKeyRing:
    """Every OIDC key the issuer ever had, which of them is current, and which are published in the JWKS."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.keys: dict[str, OidcKey] = {}
        self.published: list[str] = []
        self.current_kid = ""
        index = directory / "index.json"
        if index.exists():
            data = json.loads(index.read_text())
            for kid in data["all"]:
                key = load_or_create_rsa(directory / f"{kid}.pem")
                self.keys[kid] = OidcKey(kid=kid, private_key=key)
            self.published = list(data["published"])
            self.current_kid = data["current"]
        else:
            self.rotate(keep_previous=False)

    @property
    def current(self) -> OidcKey:
        return self.keys[self.current_kid]

    def rotate(self, *, keep_previous: bool) -> str:
        key = new_oidc_key()
        _write_private(self.directory / f"{key.kid}.pem", private_pem(key.private_key))
        self.keys[key.kid] = key
        self.published = [key.kid, *(self.published if keep_previous else [])]
        self.current_kid = key.kid
        self._save()
        return key.kid

    def unpublish_previous(self) -> None:
        self.published = [self.current_kid]
        self._save()

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.keys[kid].jwk() for kid in self.published]}

    def _save(self) -> None:
        index = {"all": list(self.keys), "published": self.published, "current": self.current_kid}
        _write_private(self.directory / "index.json", json.dumps(index).encode())


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def load_or_create_tls(directory: Path) -> TlsFiles:
    """A private CA and a server certificate for 127.0.0.1 / localhost, created once per state directory."""
    files = TlsFiles(directory / "ca.pem", directory / "server-cert.pem", directory / "server-key.pem")
    if files.ca_file.exists() and files.cert_file.exists() and files.key_file.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=3650)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "githubsim test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(files.key_file, private_pem(server_key))
    _write_private(directory / "ca-key.pem", private_pem(ca_key))
    files.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return files
