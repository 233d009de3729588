"""The reader's side of a tap: run the card sequence, verify, and say what happened.

:func:`authenticate_staff_ap` — staff card AP v1 challenge–response (docs/card-protocol.md)::

    SELECT AID → SELECT EF 00 01 → READ BINARY (89 bytes, chunked reads tolerated)
    → look up the ENROLLED key of the credential id → INTERNAL AUTHENTICATE with a fresh
    challenge → verify with the enrolled key (never the key the card presents)

:func:`authenticate_jpki` — JPKI card+PIN (see its docstring).

Neither raises for anything the card or the reader does: every CardError, malformed response
or unexpected status word becomes a failed :class:`CardAuthResult` with a reason and a clear
``detail`` for the event. ``detail`` never contains a PIN, a key or a signature.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gate.card import jpki
from gate.card.apdu import (
    CommandAPDU,
    ResponseAPDU,
    ResponseError,
    parse_response,
    read_binary,
    select_file,
    sw_text,
)
from gate.card.staff_ap import (
    DEFAULT_AID,
    NONCE_LENGTH,
    RECORD_LENGTH,
    CredentialRecord,
    internal_authenticate,
    make_challenge,
    read_credential,
    select_ap,
    select_credential_file,
    verify_signature,
)
from gate.messages import reason_text
from gate.policy import Reason
from mynagate_i18n import translations

from .drivers.base import CardChannel, CardError
from .keypad.base import KeypadStuck, KeypadUnavailable, wipe

__all__ = [
    "CardAuthResult",
    "CertificateRefused",
    "EnrollmentReading",
    "PinRefused",
    "read_jpki_for_enrollment",
    "authenticate_jpki",
    "authenticate_staff_ap",
    "read_for_enrollment",
    "read_file",
]

log = logging.getLogger(__name__)

KIND_STAFF_AP = "staff_ap"
KIND_JPKI = "jpki_auth"


@dataclass(frozen=True)
class CardAuthResult:
    """What one card presentation proved.

    ``credential_ref`` is set as soon as the card named a credential (also on most failures,
    so the event says which card was refused); it is what the card *claims* unless ``ok``.
    """

    ok: bool
    kind: str  # "staff_ap" | "jpki_auth"
    credential_ref: str | None  # staff_ap: hex credential id; jpki_auth: sha256 hex of cert
    failure: Reason | None
    detail: str
    apdus: int = 0  # command APDUs exchanged
    transport_ms: float = 0.0  # time spent inside channel.transmit (reader + card)
    total_ms: float = 0.0  # the whole call, our code included


class _Fail(Exception):
    def __init__(self, reason: Reason, detail: str, ref: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.ref = ref


class _Exchange:
    """Times the channel, parses responses, follows 61 xx with GET RESPONSE."""

    def __init__(self, channel: CardChannel) -> None:
        self.channel = channel
        self.apdus = 0
        self.transport_s = 0.0

    def raw(self, apdu: bytes) -> bytes:
        self.apdus += 1
        started = time.perf_counter()
        try:
            return self.channel.transmit(apdu)
        finally:
            self.transport_s += time.perf_counter() - started

    def send(self, command: CommandAPDU) -> ResponseAPDU:
        response = parse_response(self.raw(command.to_bytes()))
        data = response.data
        for _ in range(16):  # 61 xx: more data, fetch it with GET RESPONSE
            if response.sw1 != 0x61:
                break
            response = parse_response(self.raw(CommandAPDU(
                0x00, 0xC0, 0x00, 0x00, le=response.sw2 or 256).to_bytes()))
            data += response.data
        if data is not response.data:
            response = ResponseAPDU(data, response.sw1, response.sw2)
        return response


def _expect_ok(response: ResponseAPDU, what: str, ref: str | None = None) -> None:
    if not response.ok:
        raise _Fail(Reason.CARD_ERROR,
                    f"{what} answered SW {response.sw:04X} ({sw_text(response.sw)})", ref)


def read_record(ex: _Exchange) -> bytes:
    """READ BINARY the 89-byte credential record from offset 0, following chunked answers."""
    data = b""
    retried_le = False
    le = 256
    while len(data) < RECORD_LENGTH:
        response = ex.send(read_credential(len(data)) if le == 256 else
                           CommandAPDU(0x00, 0xB0, len(data) >> 8, len(data) & 0xFF, le=le))
        if response.sw1 == 0x6C and not retried_le:  # wrong Le: the card names the right one
            retried_le = True
            le = response.sw2 or 256
            continue
        if response.sw == 0x6B00 and data:
            break  # read past the end: the record is shorter than 89 bytes
        if response.sw not in (0x9000, 0x6282):
            _expect_ok(response, "READ BINARY")
        if not response.data:
            break
        data += response.data
        if response.sw == 0x6282:
            break
        if ex.apdus > RECORD_LENGTH + 8:
            raise ResponseError("the card keeps answering READ BINARY with no end")
    return data[:RECORD_LENGTH] if len(data) > RECORD_LENGTH else data


def authenticate_staff_ap(
    channel: CardChannel,
    *,
    lookup_public_key: Callable[[str], bytes | None],
    reader_id: str,
    now: datetime,
    aid: bytes = DEFAULT_AID,
    rng: Callable[[int], bytes] = os.urandom,
) -> CardAuthResult:
    """Staff card AP v1 challenge–response, verified with the enrolled key.

    ``lookup_public_key(credential_ref)`` returns the enrolled SEC1 key from the agent's
    snapshot, or None for a credential the snapshot does not know.
    """
    started = time.perf_counter()
    ex = _Exchange(channel)
    ref: str | None = None

    def result(ok: bool, failure: Reason | None, detail: str) -> CardAuthResult:
        return CardAuthResult(ok, KIND_STAFF_AP, ref, failure, detail, ex.apdus,
                              round(ex.transport_s * 1000, 3),
                              round((time.perf_counter() - started) * 1000, 3))

    try:
        response = ex.send(select_ap(aid))
        if response.sw == 0x6A82:
            return result(False, Reason.UNKNOWN_CREDENTIAL,
                          "no staff card AP on this card (SELECT answered 6A82)")
        _expect_ok(response, "SELECT staff AP")
        _expect_ok(ex.send(select_credential_file()), "SELECT credential file")
        record = CredentialRecord.parse(read_record(ex))
        ref = record.credential_ref
        enrolled = lookup_public_key(ref)
        if enrolled is None:
            return result(False, Reason.UNKNOWN_CREDENTIAL,
                          "credential is not enrolled (or not in this reader's snapshot)")
        nonce = rng(NONCE_LENGTH)
        challenge = make_challenge(nonce, reader_id, int(now.timestamp()))
        response = ex.send(internal_authenticate(challenge))
        _expect_ok(response, "INTERNAL AUTHENTICATE", ref)
        if not response.data:
            raise ResponseError("INTERNAL AUTHENTICATE returned no signature")
        if verify_signature(enrolled, record.credential_id, challenge, response.data):
            return result(True, None, "challenge signed by the enrolled key")
        presented = "" if bytes(enrolled) == record.public_key else \
            "; the card presents a different key than the enrolled one"
        return result(False, Reason.CARD_AUTH_FAILED,
                      "signature does not verify with the enrolled key" + presented)
    except _Fail as fail:
        return result(False, fail.reason, fail.detail)
    except CardError as err:
        log.info("card.auth.card_error kind=staff_ap error=%s", err.code)
        return result(False, Reason.CARD_ERROR, f"{err.code}: {err}")
    except ResponseError as err:
        return result(False, Reason.CARD_ERROR, f"malformed: {err}")



def read_file(ex: _Exchange, what: str, max_length: int = 8192) -> bytes:
    """Read a whole DER file of the current EF: 7 bytes, parse the length, the rest in ≤256."""
    head = ex.send(read_binary(0, jpki.HEADER_READ))
    _expect_ok(head, f"READ BINARY {what}")
    data = head.data
    total = jpki.der_total_length(data)
    if total > max_length:
        raise ResponseError(f"{what} claims {total} bytes (limit {max_length})")
    while len(data) < total:
        chunk = ex.send(read_binary(len(data), min(256, total - len(data))))
        _expect_ok(chunk, f"READ BINARY {what}")
        if not chunk.data:
            raise ResponseError(f"{what} ends at {len(data)} of {total} bytes")
        data += chunk.data
    return data[:total]


PinSource = Callable[[], "str | bytearray"]
# Secure PIN entry: gets the VERIFY template (PIN block zeroed), returns the card's answer.
SecureVerify = Callable[[bytes], bytes]


def _certificate_problem(cert: x509.Certificate, ca_certs: Sequence[x509.Certificate],
                         now: datetime, not_after: datetime | None = None,
                         ) -> tuple[Reason, str] | None:
    """None if ``cert`` is valid at ``now`` (and before the enrolled ``not_after``) and was
    issued by one of ``ca_certs``; else the reason and why."""
    expiry = min(cert.not_valid_after_utc, not_after or cert.not_valid_after_utc)
    if now >= expiry:
        return (Reason.CREDENTIAL_EXPIRED,
                f"certificate expired on {expiry:%Y-%m-%d}: the holder must renew it")
    if now < cert.not_valid_before_utc:
        return (Reason.CARD_AUTH_FAILED,
                f"certificate not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
    for ca in ca_certs:
        if ca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
            return Reason.CARD_AUTH_FAILED, "the issuing CA certificate is not valid at this time"
        return None
    return Reason.CARD_AUTH_FAILED, "certificate not issued by a configured JPKI authentication CA"


def _read_auth_certificate(ex: _Exchange) -> x509.Certificate:
    """SELECT the JPKI AP and read the user-authentication certificate (no PIN needed)."""
    response = ex.send(jpki.select_jpki())
    if response.sw == 0x6A82:
        raise _Fail(Reason.UNKNOWN_CREDENTIAL, "no JPKI AP on this card (SELECT answered 6A82)")
    _expect_ok(response, "SELECT JPKI AP")
    _expect_ok(ex.send(select_file(jpki.EF_AUTH_CERT)), "SELECT auth certificate")
    der = read_file(ex, "auth certificate")
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as err:
        raise ResponseError("the auth certificate is not a DER X.509 certificate") from err


def _enrolled_key(cert: x509.Certificate, enrolled: bytes | None) -> rsa.RSAPublicKey:
    """The enrolled RSA-2048 key, which must be the certificate's own."""
    if enrolled is None:
        raise _Fail(Reason.UNKNOWN_CREDENTIAL,
                    "certificate is not enrolled (or not in this reader's snapshot)")
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    if spki != bytes(enrolled):
        raise _Fail(Reason.CARD_AUTH_FAILED, "the certificate's key is not the enrolled key")
    key = serialization.load_der_public_key(bytes(enrolled))
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
        raise _Fail(Reason.CARD_AUTH_FAILED, "the enrolled key is not RSA-2048")
    return key


def _check_tries(ex: _Exchange) -> None:
    """Read the tries left without spending one; never VERIFY with one try or fewer left."""
    _expect_ok(ex.send(select_file(jpki.EF_AUTH_PIN)), "SELECT PIN file")
    tries = jpki.pin_tries_left(ex.send(jpki.verify_status()))
    if tries == 0:
        raise _Fail(Reason.PIN_BLOCKED, "PIN blocked (6983): VERIFY not attempted; the holder "
                                        "must have it reset at the municipal counter")
    if tries == 1:
        raise _Fail(Reason.PIN_TRIES_LOW, "PIN 1 try left: VERIFY not attempted")


def _verify_with_keypad(ex: _Exchange, read_pin: PinSource | None,
                        secure_verify: SecureVerify | None) -> ResponseAPDU:
    """VERIFY with the holder's PIN, typed on the reader's own pad (``secure_verify``: the
    PIN never reaches us) or on a host keypad (digits wiped as soon as they are sent)."""
    try:
        if secure_verify is not None:
            ex.apdus += 1
            return parse_response(secure_verify(jpki.verify_template()))
        if read_pin is None:
            raise KeypadUnavailable("this reader has no keypad")
        entered = read_pin()
    except (KeypadUnavailable, KeypadStuck) as err:
        raise _Fail(Reason.KEYPAD_ERROR, f"{err.code}: {err}") from err
    except ResponseError:
        raise
    except Exception as err:  # timeout / cancel: nothing was sent
        raise _Fail(Reason.PIN_REQUIRED, f"no PIN entered ({type(err).__name__})") from err
    pin = entered if isinstance(entered, bytearray) else bytearray(entered, "utf-8")
    command = bytearray()
    try:
        if not jpki.is_valid_pin(pin):
            raise _Fail(Reason.PIN_WRONG, "PIN is not 4 digits: VERIFY not sent")
        command = jpki.verify_pin(pin)
        return parse_response(ex.raw(command))
    finally:
        wipe(pin)
        wipe(command)


def _check_verified(response: ResponseAPDU) -> None:
    if response.ok:
        return
    left = jpki.pin_tries_left(response)  # ResponseError for anything but 63 Cx / 69 83
    if left == 0:
        raise _Fail(Reason.PIN_BLOCKED, "wrong PIN, now blocked: the holder must have it reset "
                                        "at the municipal counter")
    raise _Fail(Reason.PIN_WRONG, f"wrong PIN, {left} tries left")


def _sign(ex: _Exchange, challenge: bytes) -> bytes:
    """COMPUTE DIGITAL SIGNATURE over SHA-256(challenge) with the auth key (EF 00 17)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(challenge)
    _expect_ok(ex.send(select_file(jpki.EF_AUTH_KEY)), "SELECT auth key")
    response = ex.send(jpki.compute_signature(jpki.digest_info_sha256(digest.finalize())))
    _expect_ok(response, "COMPUTE DIGITAL SIGNATURE")
    return response.data


def authenticate_jpki(
    channel: CardChannel,
    *,
    lookup_public_key: Callable[[str], bytes | None],
    show: Callable[[str], None],
    ca_certs: Sequence[x509.Certificate],
    reader_id: str,
    now: datetime,
    read_pin: PinSource | None = None,
    secure_verify: SecureVerify | None = None,
    lookup_not_after: Callable[[str], datetime | None] = lambda _ref: None,
    challenge: bytes | None = None,
    rng: Callable[[int], bytes] = os.urandom,
    lang: str = "ja",
) -> CardAuthResult:
    """JPKI card+PIN (two-factor) with the user-authentication key.

    1. Read the auth certificate (EF 00 0A, no PIN) and match its SHA-256 fingerprint to an
       enrolled credential; ``lookup_public_key(fingerprint)`` returns the enrolled DER
       SubjectPublicKeyInfo, which must be the certificate's key.
    2. Check the validity at ``now`` (also against the enrolled ``lookup_not_after``: expired
       is ``credential_expired``) and the chain against ``ca_certs`` — before the PIN, so a
       certificate that cannot pass never costs a PIN try.
    3. Read the tries left (EF 00 18, ``00 20 00 80`` → 63 Cx). Blocked (0): ``pin_blocked``;
       one try left: ``pin_tries_low``; VERIFY is not sent.
    4. ``show`` asks for the PIN; VERIFY with the PIN from ``read_pin`` (a host keypad) or on
       the reader's own pad (``secure_verify``).
    5. Sign the DigestInfo of SHA-256(challenge) with the auth key (EF 00 17) and verify the
       RSA PKCS#1 v1.5 signature with the enrolled key.

    ``show`` only carries the prompt: the outcome is the caller's to display, once. The PIN is
    never logged, stored, or put in a result; its buffers are zeroed after the VERIFY.
    """
    started = time.perf_counter()
    ex = _Exchange(channel)
    ref: str | None = None

    def result(ok: bool, failure: Reason | None, detail: str) -> CardAuthResult:
        return CardAuthResult(ok, KIND_JPKI, ref, failure, detail, ex.apdus,
                              round(ex.transport_s * 1000, 3),
                              round((time.perf_counter() - started) * 1000, 3))

    try:
        cert = _read_auth_certificate(ex)
        ref = cert.fingerprint(hashes.SHA256()).hex()
        key = _enrolled_key(cert, lookup_public_key(ref))
        problem = _certificate_problem(cert, ca_certs, now, lookup_not_after(ref))
        if problem is not None:
            return result(False, *problem)
        _check_tries(ex)
        _show_safely(show, reason_text(Reason.PIN_REQUIRED, translations(lang).gettext))
        _check_verified(_verify_with_keypad(ex, read_pin, secure_verify))
        if challenge is None:
            challenge = make_challenge(rng(NONCE_LENGTH), reader_id, int(now.timestamp()))
        try:
            key.verify(_sign(ex, challenge), challenge, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return result(False, Reason.CARD_AUTH_FAILED,
                          "signature does not verify with the enrolled key")
        return result(True, None, "PIN verified and challenge signed by the enrolled key")
    except _Fail as fail:
        return result(False, fail.reason, fail.detail)
    except CardError as err:
        log.info("card.auth.card_error kind=jpki_auth error=%s", err.code)
        return result(False, Reason.CARD_ERROR, f"{err.code}: {err}")
    except ResponseError as err:
        return result(False, Reason.CARD_ERROR, f"malformed: {err}")


def _show_safely(show: Callable[[str], None], text: str) -> None:
    """A display fault must not end the card exchange."""
    try:
        show(text)
    except Exception as err:
        log.warning("card.auth.display_failed error=%s", type(err).__name__)


@dataclass(frozen=True)
class EnrollmentReading:
    """What an enrollment reader sends the service: the credential file and the card's
    signature over the service's enrollment challenge."""

    record: bytes
    signature: bytes

    @property
    def credential(self) -> CredentialRecord:
        return CredentialRecord.parse(self.record)


def read_for_enrollment(channel: CardChannel, challenge: bytes, *,
                        aid: bytes = DEFAULT_AID) -> EnrollmentReading:
    """Read the credential file and have the card sign the enrollment ``challenge``.

    Unlike the tap path this raises: CardError for the reader and the card, ResponseError for
    a response that is not the staff AP v1 (the enrollment command reports it).
    """
    ex = _Exchange(channel)
    for command, what in ((select_ap(aid), "SELECT staff AP"),
                          (select_credential_file(), "SELECT credential file")):
        response = ex.send(command)
        if not response.ok:
            raise ResponseError(f"{what} answered SW {response.sw:04X} "
                                f"({sw_text(response.sw)})")
    record = read_record(ex)
    CredentialRecord.parse(record)
    response = ex.send(internal_authenticate(challenge))
    if not response.ok or not response.data:
        raise ResponseError(f"INTERNAL AUTHENTICATE answered SW {response.sw:04X} "
                            f"({sw_text(response.sw)})")
    return EnrollmentReading(record, response.data)



class PinRefused(Exception):
    """Enrollment stopped at the PIN: blocked, one try left, not 4 digits, or wrong.

    ``reason`` is the gate Reason that names it; ``str()`` the holder-facing explanation.
    """

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class CertificateRefused(Exception):
    """Enrollment stopped before the PIN: the certificate would be refused (expired, not from
    a trusted CA, already enrolled). No PIN try was spent."""

    def __init__(self, message: str, reason: Reason | None = None) -> None:
        super().__init__(message)
        self.reason = reason


def read_jpki_for_enrollment(channel: CardChannel, challenge: bytes, *,
                             read_pin: PinSource,
                             now: datetime,
                             ca_certs: Sequence[x509.Certificate],
                             precheck: Callable[[bytes], None] = lambda _der: None,
                             show: Callable[[str], None] = lambda _t: None,
                             lang: str = "ja") -> EnrollmentReading:
    """Read the JPKI auth certificate, check it, and after the holder's PIN sign ``challenge``.

    Everything that can refuse the card is checked before the PIN: the validity at ``now``,
    the chain to ``ca_certs``, and ``precheck(der)`` (the service: already enrolled?), which
    raises CertificateRefused. Then the tries left (blocked or one try: PinRefused, no VERIFY).
    ``record`` of the result is the DER certificate. Raises CardError, ResponseError,
    CertificateRefused or PinRefused. The PIN is not kept.
    """
    ex = _Exchange(channel)
    try:
        cert = _read_auth_certificate(ex)
    except _Fail as fail:
        raise ResponseError(fail.detail) from fail
    problem = _certificate_problem(cert, ca_certs, now)
    if problem is not None:
        raise CertificateRefused(problem[1], problem[0])
    der = cert.public_bytes(serialization.Encoding.DER)
    precheck(der)
    try:
        _check_tries(ex)
        show(reason_text(Reason.PIN_REQUIRED, translations(lang).gettext))
        _check_verified(_verify_with_keypad(ex, read_pin, None))
    except _Fail as fail:
        raise PinRefused(fail.reason, f"{reason_text(fail.reason, translations(lang).gettext)} ({fail.detail})") \
            from fail
    return EnrollmentReading(der, _sign(ex, challenge))
