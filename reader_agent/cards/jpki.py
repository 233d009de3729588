"""A virtual JPKI AP subset: user-authentication certificate, its CA, PIN, and RSA-2048 key.

Signed by a generated **test** CA (:func:`make_test_ca`): a real reader trusts only the
J-LIS JPKI authentication CA certificates it is configured with, so these cards open nothing
in production.
"""

from __future__ import annotations

import datetime as dt
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from gate.card import jpki
from gate.card.apdu import ResponseError

from .base import (
    SW_CLA,
    SW_INS,
    SW_NO_CURRENT_EF,
    SW_NOT_FOUND,
    SW_OFFSET,
    SW_OK,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    VirtualCard,
    parse_command,
    sw,
)

__all__ = ["VirtualJpkiCard", "issue_auth_certificate", "make_test_ca"]

SW_SECURITY = sw(0x6982)
SW_BLOCKED = sw(0x6983)
SW_DATA = sw(0x6A80)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mynagate TEST"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_test_ca(name: str = "mynagate TEST JPKI Auth CA", *, now: dt.datetime | None = None,
                 days: int = 3650) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed RSA-2048 test CA standing in for the JPKI authentication CA."""
    now = now or dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def issue_auth_certificate(ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate,
                           public_key: rsa.RSAPublicKey, *, now: dt.datetime | None = None,
                           days: int = 5 * 365, not_before: dt.datetime | None = None,
                           ) -> x509.Certificate:
    """A user-authentication certificate (5 years, like JPKI's) for ``public_key``.

    The subject carries no name or number: a JPKI auth certificate holds neither.
    """
    now = now or dt.datetime.now(dt.UTC)
    start = not_before or now - dt.timedelta(days=1)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                     x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                        "mynagate TEST")]))
            .issuer_name(ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .sign(ca_key, hashes.SHA256()))


class VirtualJpkiCard(VirtualCard):
    """The JPKI AP subset a card+PIN door uses, with a real PIN counter (3 tries, blocking)."""

    kind = "jpki"

    def __init__(self, private_key: rsa.RSAPrivateKey, certificate: x509.Certificate,
                 ca_certificate: x509.Certificate, pin: str, *,
                 tries_left: int = jpki.AUTH_PIN_TRIES) -> None:
        if not jpki.is_valid_pin(pin):
            raise ValueError("the JPKI user-authentication PIN is 4 digits")
        self.private_key = private_key
        self.certificate = certificate
        self.ca_certificate = ca_certificate
        self._pin = pin
        self.tries_left = tries_left
        self._files = {
            jpki.EF_AUTH_CERT: certificate.public_bytes(serialization.Encoding.DER),
            jpki.EF_AUTH_CA: ca_certificate.public_bytes(serialization.Encoding.DER),
        }
        self._lock = threading.Lock()
        self.verify_attempts = 0  # VERIFY commands that carried a PIN (tests)
        self.reset()

    @classmethod
    def generate(cls, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, pin: str, *,
                 now: dt.datetime | None = None, **kwargs: int) -> VirtualJpkiCard:
        """A new card whose certificate is valid from a day before ``now``."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = issue_auth_certificate(ca_key, ca_cert, key.public_key(), now=now)
        return cls(key, cert, ca_cert, pin, **kwargs)

    @property
    def pin(self) -> str:
        """The card's PIN (test cards only; stored with the card file)."""
        return self._pin

    @property
    def certificate_der(self) -> bytes:
        return self._files[jpki.EF_AUTH_CERT]

    @property
    def credential_ref(self) -> str:
        """SHA-256 fingerprint of the DER auth certificate (how the service names it)."""
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0

    def reset(self) -> None:
        with self._lock:
            self._selected = False
            self._ef: bytes | None = None
            self._verified = False

    def process(self, apdu: bytes) -> bytes | None:
        with self._lock:
            return self._process(bytes(apdu))

    def _process(self, apdu: bytes) -> bytes:
        cmd = parse_command(apdu)
        if cmd is None:
            return SW_WRONG_LENGTH
        if cmd.ins == 0xA4 and cmd.cla == 0x00:
            return self._select(cmd.p1, cmd.data)
        if cmd.ins == 0xB0 and cmd.cla == 0x00:
            return self._read(cmd.p1, cmd.p2, cmd.le)
        if cmd.ins == 0x20 and cmd.cla == 0x00:
            return self._verify(cmd.p1, cmd.p2, cmd.data)
        if cmd.ins == 0x2A and cmd.cla == 0x80:
            return self._sign(cmd.p1, cmd.p2, cmd.data)
        if cmd.cla not in (0x00, 0x80):
            return SW_CLA
        return SW_INS

    def _select(self, p1: int, data: bytes) -> bytes:
        if p1 == 0x04:
            if data != jpki.AID:
                return SW_NOT_FOUND
            self._selected, self._ef, self._verified = True, None, False
            return SW_OK
        if p1 == 0x02:
            if not self._selected or data not in (*self._files, jpki.EF_AUTH_KEY,
                                                  jpki.EF_AUTH_PIN):
                return SW_NOT_FOUND
            self._ef = data
            return SW_OK
        return SW_WRONG_P1P2

    def _read(self, p1: int, p2: int, le: int | None) -> bytes:
        content = self._files.get(self._ef or b"")
        if content is None:
            return SW_NO_CURRENT_EF
        offset = (p1 << 8) | p2
        if offset >= len(content):
            return SW_OFFSET
        return content[offset : offset + (le or 256)] + SW_OK

    def _verify(self, p1: int, p2: int, data: bytes) -> bytes:
        if (p1, p2) != (0x00, 0x80):
            return SW_WRONG_P1P2
        if not self._selected or self._ef != jpki.EF_AUTH_PIN:
            return SW_NO_CURRENT_EF
        if self.tries_left == 0:
            return SW_BLOCKED
        if not data:  # status only
            return SW_OK if self._verified else sw(0x63C0 | self.tries_left)
        self.verify_attempts += 1
        if data == self._pin.encode("ascii"):
            self.tries_left = jpki.AUTH_PIN_TRIES
            self._verified = True
            return SW_OK
        self.tries_left -= 1
        self._verified = False
        return SW_BLOCKED if self.tries_left == 0 else sw(0x63C0 | self.tries_left)

    def _sign(self, p1: int, p2: int, data: bytes) -> bytes:
        if (p1, p2) != (0x00, 0x80):
            return SW_WRONG_P1P2
        if self._ef != jpki.EF_AUTH_KEY:
            return SW_NO_CURRENT_EF
        if not self._verified:
            return SW_SECURITY
        try:
            digest = jpki.digest_from_digest_info(data)
        except ResponseError:
            return SW_DATA
        return self.private_key.sign(digest, padding.PKCS1v15(),
                                     Prehashed(hashes.SHA256())) + SW_OK

    def __repr__(self) -> str:  # never the PIN or the key
        return f"VirtualJpkiCard(credential_ref={self.credential_ref}, " \
               f"tries_left={self.tries_left})"
