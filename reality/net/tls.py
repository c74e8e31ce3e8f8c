"""TLS as a layer over any transport: OpenSSL's memory BIOs, sans-IO, on any reactor.

A :class:`TLSProtocol` sits between a transport (a TCP connection, a test
``StringTransport``) and the protocol that speaks the application's
language: to the transport it is a protocol, to the inner protocol it is
the transport. Ciphertext goes through two :class:`ssl.MemoryBIO` s and an
:class:`ssl.SSLObject` (the standard library's OpenSSL); no socket is ever
wrapped, so it runs unchanged on both reactors and on the test doubles, in
the spirit of Twisted's memory-BIO ``TLSMemoryBIOProtocol``.

What it promises:

- **Both roles.** ``server_side=True`` for the services; ``False`` for
  clients (the tests, ``reality play --tls``), with ``server_hostname`` for
  SNI and certificate checking.
- **STARTTLS.** With ``start=False`` bytes pass through untouched until the
  inner protocol calls :meth:`TLSProtocol.start_tls` (SMTP ``STARTTLS``,
  POP3 ``STLS``). Everything after that is TLS. The layer cannot see bytes
  the inner protocol itself has buffered: a service must refuse the upgrade
  when plaintext followed the command (the classic STARTTLS injection,
  CVE-2011-0411); ``docs/design.md`` says how.
- **Writes before the handshake** are kept (bounded by ``max_buffer``) and
  encrypted once it completes; :meth:`~TLSProtocol.lose_connection` during
  the handshake waits for it, then sends them and closes.
- **Orderly close.** ``lose_connection()`` sends ``close_notify`` and closes
  the connection once that is written; it does not wait for the peer's
  (a peer that never answers cannot hold the connection open). A peer's
  ``close_notify`` is answered the same way.
- **Errors abort.** A bad handshake, garbage records, plaintext on a TLS
  port: the alert OpenSSL made is written, the connection aborted, and one
  line logged at INFO with the peer and OpenSSL's reason (never a
  traceback: a client's bytes cannot make one).
- **Renegotiation refused** (``OP_NO_RENEGOTIATION`` in the contexts made
  here; TLS 1.3 has none).
- **Flow control preserved.** The transport's ``pause_writing`` and
  ``resume_writing`` reach the inner protocol (a slow TLS reader pauses the
  writer); ``pause_reading`` stops both the socket and the decryption;
  ``get_write_buffer_size`` counts plaintext waiting for the handshake too.
- **Bounded.** Ciphertext not yet decrypted and plaintext waiting for the
  handshake are each capped at ``max_buffer`` bytes; past it, the
  connection is aborted. Decrypting is linear in what arrived.
- **Handshake deadline** on the reactor's clock: a peer that stalls
  mid-handshake (or never starts) is aborted after ``handshake_timeout``
  seconds; the timer is cancelled when the handshake completes.

Contexts: :func:`server_context` (TLS 1.2 and 1.3 only, Mozilla's
"intermediate" ciphers for 1.2, no compression, no renegotiation, any SNI
name accepted, ALPN when asked) and :func:`client_context`.
:class:`TLSContexts` holds the server contexts made from one certificate
and key and re-reads them on :meth:`TLSContexts.reload` (SIGHUP): a bad
file keeps the old contexts; connections already open keep their
``SSLObject``, new ones use the new context.

:class:`TLSServerFactory` wraps every protocol an inner factory builds
(TLS from the first byte, or a plain start with ``start=False``);
:func:`wrap_for_starttls` wraps one protocol for a STARTTLS service.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from reality.net.address import Address
from reality.net.defer import Deferred, Failure
from reality.net.error import ConnectionLost
from reality.net.interfaces import (
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    ITLSTransport,
    ITransport,
)
from reality.net.timing import IReactorTime

log = logging.getLogger(__name__)

__all__ = [
    "INTERMEDIATE_CIPHERS",
    "TLSConfigError",
    "TLSContexts",
    "TLSError",
    "TLSProtocol",
    "TLSServerFactory",
    "client_context",
    "server_context",
    "wrap_for_starttls",
]

#: Mozilla's "intermediate" configuration (server-side TLS guidelines, v5.7)
#: for TLS 1.2: forward-secret AEAD suites only. TLS 1.3 suites are
#: OpenSSL's defaults, which are exactly Mozilla's. The guideline's DHE
#: suites are left out: they need a Diffie-Hellman parameter file, which
#: nobody should have to manage when ECDHE is everywhere.
INTERMEDIATE_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)

#: Plaintext taken out of OpenSSL per read call (one TLS record is at most 16 KiB).
_READ_SIZE = 64 * 1024
# One read buffer for every connection: the server has one thread, and each
# read is copied out before anything else can run. A bytes object per read
# would allocate (and mmap) 64 KiB for every 64-byte message.
_READ_BUFFER = bytearray(_READ_SIZE)
_READ_VIEW = memoryview(_READ_BUFFER)

#: Ciphertext not yet decrypted, or plaintext waiting for the handshake,
#: past which a connection is aborted.
MAX_BUFFER = 256 * 1024
#: Seconds a peer has to complete a handshake.
HANDSHAKE_TIMEOUT = 10.0

_NO_RENEGOTIATION: int = getattr(ssl, "OP_NO_RENEGOTIATION", 0)


class TLSConfigError(Exception):
    """A certificate or key cannot be used; the message says which file and why."""


class TLSError(ConnectionLost):
    """A TLS connection failed before its handshake completed."""


def _read_pem(path: str, what: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(1024 * 1024)
    except OSError as exc:
        raise TLSConfigError(f"cannot read the TLS {what} {path}: {exc.strerror or exc}") from None


def _refuse_passphrase() -> bytes:
    raise TLSConfigError("is encrypted with a passphrase; give the server an unencrypted key")


def server_context(
    cert_file: str, key_file: str, *, alpn: Sequence[str] = ()
) -> ssl.SSLContext:
    """A server context from a PEM certificate chain and its private key.

    TLS 1.2 and 1.3 only, :data:`INTERMEDIATE_CIPHERS` for 1.2, no
    compression, no renegotiation, any SNI name accepted, and the ALPN
    protocols in ``alpn`` (HTTPS offers ``["http/1.1"]``). Raises
    :class:`TLSConfigError` saying which file is unreadable, holds no PEM,
    or does not match the other.
    """
    cert_text = _read_pem(cert_file, "certificate")
    key_text = _read_pem(key_file, "key")
    if "-----BEGIN CERTIFICATE-----" not in cert_text:
        raise TLSConfigError(f"the TLS certificate {cert_file} holds no PEM certificate")
    if "PRIVATE KEY-----" not in key_text:
        raise TLSConfigError(f"the TLS key {key_file} holds no PEM private key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | _NO_RENEGOTIATION
    try:
        context.load_cert_chain(cert_file, key_file, password=_refuse_passphrase)
    except TLSConfigError as exc:
        raise TLSConfigError(f"the TLS key {key_file} {exc}") from None
    except ssl.SSLError as exc:
        text = str(exc)
        if "KEY_VALUES_MISMATCH" in text or "key values mismatch" in text:
            raise TLSConfigError(
                f"the TLS key {key_file} does not belong to the certificate {cert_file}"
            ) from None
        raise TLSConfigError(
            f"cannot load the TLS certificate {cert_file} with the key {key_file}: "
            f"{exc.reason or text}"
        ) from None
    except OSError as exc:
        raise TLSConfigError(f"cannot read {cert_file} or {key_file}: {exc}") from None
    # Any name a client asks for is served the one certificate (no virtual hosts).
    context.sni_callback = _accept_any_name
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def _accept_any_name(
    obj: ssl.SSLObject | ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext
) -> None:
    return None


def client_context(cafile: str | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A client context: TLS 1.2 or later, checking the server against ``cafile``
    (the system's CAs when None); ``verify=False`` checks nothing (trying out a
    self-signed server)."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class TLSContexts:
    """The current server contexts for one certificate and key, one per ALPN list.

    Made at startup (raising :class:`TLSConfigError` if the files are bad);
    :meth:`reload` re-reads the files for a renewed certificate. Pass
    :meth:`getter` (or the object itself, to :class:`TLSServerFactory`) so
    each new connection takes the context current at the time.
    """

    def __init__(self, cert_file: str, key_file: str) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self._contexts: dict[tuple[str, ...], ssl.SSLContext] = {
            (): server_context(cert_file, key_file)
        }

    def get(self, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
        """The current context offering ``alpn`` (made the first time it is asked for)."""
        alpn = tuple(alpn)
        context = self._contexts.get(alpn)
        if context is None:
            context = self._contexts[alpn] = server_context(
                self.cert_file, self.key_file, alpn=alpn
            )
        return context

    def getter(self, alpn: Sequence[str] = ()) -> Callable[[], ssl.SSLContext]:
        """A function returning the current context for ``alpn`` (for a factory)."""
        key = tuple(alpn)
        return lambda: self.get(key)

    def reload(self) -> str | None:
        """Re-read the certificate and key; None if it worked, else why not.

        On any error the old contexts stay in use. Connections already open
        keep theirs either way.
        """
        try:
            fresh = {
                alpn: server_context(self.cert_file, self.key_file, alpn=alpn)
                for alpn in self._contexts
            }
        except TLSConfigError as exc:
            return str(exc)
        self._contexts = fresh
        return None


ContextSource = ssl.SSLContext | Callable[[], ssl.SSLContext]


def _resolve(context: ContextSource) -> ssl.SSLContext:
    return context if isinstance(context, ssl.SSLContext) else context()


class TLSProtocol:
    """TLS between a transport and ``inner``: a protocol below, a transport above.

    See the module docstring for what it promises. ``context`` is a context
    or a function returning one, called when TLS starts (so a reloaded
    certificate reaches new connections and later STARTTLS upgrades).
    """

    factory: Any = None

    def __init__(
        self,
        inner: IProtocol,
        context: ContextSource,
        *,
        server_side: bool,
        clock: IReactorTime,
        server_hostname: str | None = None,
        start: bool = True,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        max_buffer: int = MAX_BUFFER,
    ) -> None:
        self.inner = inner
        self.transport: ITransport | None = None
        self.connected = False
        self.disconnecting = False
        self.disconnected = False
        # None while the handshake is to come or under way; True once it
        # completed; the Failure if the connection ended first.
        self._handshake_result: bool | Failure | None = None
        self._handshake_waiters: list[Deferred[None]] = []
        self._context = context
        self._server_side = server_side
        self._clock = clock
        self._server_hostname = server_hostname
        self._start = start
        self._handshake_timeout = handshake_timeout
        self._max_buffer = max_buffer
        self._tls: ssl.SSLObject | None = None
        self._incoming: ssl.MemoryBIO | None = None
        self._outgoing: ssl.MemoryBIO | None = None
        self._handshaking = False
        self._timer: IDelayedCall | None = None
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._close_requested = False
        self._reading_paused = False
        self._writing_paused = False
        self._inner_paused = False
        self._resume_call: IDelayedCall | None = None
        self._lost = False

    # -- what the inner protocol sees: a transport ---------------------------------

    @property
    def handshake_done(self) -> Deferred[None]:
        """A Deferred that fires when the handshake completes, or fails with
        :class:`TLSError` if the connection ends first (a new one per access,
        so that a failure nobody asked about is never logged as unhandled)."""
        d: Deferred[None] = Deferred()
        result = self._handshake_result
        if result is True:
            d.callback(None)
        elif isinstance(result, Failure):
            d.errback(result)
        else:
            self._handshake_waiters.append(d)
        return d

    @property
    def tls_active(self) -> bool:
        """True once TLS has started (the handshake may still be under way)."""
        return self._tls is not None

    @property
    def handshake_complete(self) -> bool:
        """True once the handshake has completed."""
        return self._tls is not None and not self._handshaking

    def start_tls(self, context: ssl.SSLContext | None = None) -> None:
        """Start TLS on this live connection (after a STARTTLS/STLS reply was written).

        Everything the peer sends from now on is TLS; what the inner
        protocol writes waits for the handshake. ``context`` overrides the
        one given at construction. Raises :class:`RuntimeError` if TLS is
        already on or the connection is closing.
        """
        if self._tls is not None:
            raise RuntimeError("TLS has already started on this connection")
        if self.disconnecting or self.transport is None:
            raise RuntimeError("cannot start TLS on a connection that is not open")
        if context is not None:
            self._context = context
        self._begin()

    def tls_version(self) -> str | None:
        """The protocol version agreed (``"TLSv1.3"``), or None before the handshake."""
        return self._tls.version() if self.handshake_complete and self._tls else None

    def cipher(self) -> tuple[str, str, int] | None:
        """The cipher suite agreed: (name, protocol, secret bits), or None."""
        return self._tls.cipher() if self.handshake_complete and self._tls else None

    def alpn_protocol(self) -> str | None:
        """The ALPN protocol agreed (``"http/1.1"``), or None."""
        return self._tls.selected_alpn_protocol() if self._tls else None

    def peer_certificate(self) -> dict[str, Any] | None:
        """The peer's certificate as :meth:`ssl.SSLObject.getpeercert` gives it, or None."""
        return self._tls.getpeercert() if self.handshake_complete and self._tls else None

    def write(self, data: bytes) -> None:
        """Encrypt and send ``data`` (or keep it until the handshake completes)."""
        if not data or self.disconnecting or self.transport is None:
            return
        tls = self._tls
        if tls is None:
            self.transport.write(data)
            return
        if self._handshaking:
            self._pending.append(bytes(data))
            self._pending_size += len(data)
            if self._pending_size > self._max_buffer:
                self._fail(f"{self._pending_size} bytes written before the handshake completed")
            return
        try:
            tls.write(data)
        except ssl.SSLError as exc:
            self._fail(f"cannot write: {exc}")
            return
        self._flush()

    def write_sequence(self, data: Iterable[bytes]) -> None:
        """Send several byte strings (in as few records as they fit)."""
        self.write(b"".join(data))

    def lose_connection(self) -> None:
        """Send ``close_notify`` (after anything kept for the handshake) and close."""
        if self.disconnecting or self.transport is None:
            return
        self.disconnecting = True
        if self._tls is None:
            self.transport.lose_connection()
        elif self._handshaking:
            self._close_requested = True  # _handshake_completed() closes
        else:
            self._shutdown()

    def abort_connection(self) -> None:
        """Close now, dropping anything buffered; no ``close_notify``."""
        self.disconnecting = True
        self._pending.clear()
        self._pending_size = 0
        if self.transport is not None:
            self.transport.abort_connection()

    def get_peer(self) -> Address:
        assert self.transport is not None
        return self.transport.get_peer()

    def get_host(self) -> Address:
        assert self.transport is not None
        return self.transport.get_host()

    def pause_reading(self) -> None:
        self._reading_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._reading_paused:
            return
        self._reading_paused = False
        if self.transport is not None:
            self.transport.resume_reading()
        # Records already decrypted-able wait in the BIO: deliver them on the
        # next turn, not inside the inner protocol's call.
        if self._tls is not None and not self._handshaking and self._resume_call is None:
            self._resume_call = self._clock.call_later(0, self._deliver_held)

    def get_write_buffer_size(self) -> int:
        """Ciphertext the transport holds plus plaintext waiting for the handshake."""
        size = self._pending_size
        if self.transport is not None:
            size += self.transport.get_write_buffer_size()
        return size

    # -- what the transport sees: a protocol ---------------------------------------

    def make_connection(self, transport: ITransport) -> None:
        """Attach to ``transport``; TLS starts now unless ``start=False``."""
        self.transport = transport
        self.connected = True
        if self._start:
            self._begin()
        # Always: the inner protocol hears of the end only after the start.
        self.inner.make_connection(self)

    def data_received(self, data: bytes) -> None:
        tls = self._tls
        if tls is None:
            if not self.disconnecting:
                self.inner.data_received(data)
            return
        incoming = self._incoming
        assert incoming is not None
        incoming.write(data)
        if self._handshaking:
            self._do_handshake()
        elif not self._reading_paused:
            self._read()
        # What a transport hands over at once is bounded by its read size;
        # what stays undecrypted (reading paused, a record never completed)
        # must be bounded here.
        if incoming.pending > self._max_buffer and not self.disconnected:
            self._fail(f"more than {self._max_buffer} bytes of TLS records waiting")

    def eof_received(self) -> bool:
        """The peer sent FIN: the transport closes (a TLS peer should close_notify first)."""
        if self._tls is None:
            eof_received = getattr(self.inner, "eof_received", None)
            if eof_received is not None:
                return bool(eof_received())
        return False

    def connection_lost(self, reason: Failure) -> None:
        if self._lost:
            return
        self._lost = True
        self.connected = False
        self.disconnecting = True
        self.disconnected = True
        self._cancel_timer()
        call, self._resume_call = self._resume_call, None
        if call is not None and call.active():
            call.cancel()
        self._pending.clear()
        self._pending_size = 0
        if self._handshaking:
            failure = Failure(TLSError("the connection ended before the TLS handshake completed"))
            self._handshake_result = failure
            waiters, self._handshake_waiters = self._handshake_waiters, []
            for d in waiters:
                d.errback(failure)
        self.inner.connected = False
        self.inner.connection_lost(reason)

    def pause_writing(self) -> None:
        self._writing_paused = True
        if not self._inner_paused:
            self._inner_paused = True
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._inner_paused:
            self._inner_paused = False
            self.inner.resume_writing()

    # -- the TLS machine -----------------------------------------------------------

    def _begin(self) -> None:
        try:
            context = _resolve(self._context)
        except TLSConfigError as exc:
            log.warning("TLS with %s: no context: %s", self._peer_text(), exc)
            self.abort_connection()
            return
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming,
            self._outgoing,
            server_side=self._server_side,
            server_hostname=None if self._server_side else self._server_hostname,
        )
        self._handshaking = True
        if self._handshake_timeout > 0:
            self._timer = self._clock.call_later(self._handshake_timeout, self._timed_out)
        if not self._server_side:
            self._do_handshake()  # the ClientHello

    def _do_handshake(self) -> None:
        tls = self._tls
        assert tls is not None
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLError as exc:
            self._fail(f"TLS handshake failed: {_reason(exc)}")
            return
        except ValueError as exc:  # e.g. a certificate check with no hostname
            self._fail(f"TLS handshake failed: {exc}")
            return
        self._handshake_completed()

    def _handshake_completed(self) -> None:
        tls = self._tls
        assert tls is not None
        self._handshaking = False
        self._cancel_timer()
        pending, self._pending = self._pending, []
        self._pending_size = 0
        try:
            for data in pending:
                tls.write(data)
        except ssl.SSLError as exc:
            self._fail(f"cannot write: {exc}")
            return
        self._flush()
        self._handshake_result = True
        waiters, self._handshake_waiters = self._handshake_waiters, []
        for d in waiters:
            d.callback(None)
        if self._close_requested:
            self._shutdown()
            return
        if not self.disconnecting and not self._reading_paused:
            self._read()  # application data may have come with the handshake's end

    def _read(self) -> None:
        tls, incoming = self._tls, self._incoming
        assert tls is not None and incoming is not None
        chunks: list[bytes] = []
        closed = False
        while True:
            try:
                # With a buffer, read() answers how many bytes it put there.
                n = cast(int, tls.read(_READ_SIZE, _READ_BUFFER))
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                closed = True
                break
            except ssl.SSLError as exc:
                if chunks:
                    self._deliver(chunks)
                self._fail(f"bad TLS data: {_reason(exc)}")
                return
            if not n:
                closed = True  # an orderly EOF on the BIO
                break
            chunks.append(bytes(_READ_VIEW[:n]))
            if not incoming.pending and not tls.pending():
                break  # all taken: spare the read that would raise SSLWantReadError
        # Answers (a TLS 1.3 key update, session tickets) may be waiting.
        self._flush()
        if chunks:
            self._deliver(chunks)
        if closed and not self.disconnecting:
            # The peer sent close_notify: answer it and close.
            self.lose_connection()

    def _deliver(self, chunks: list[bytes]) -> None:
        if self.disconnecting:
            return  # the inner protocol asked to close: nothing more is read
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.inner.data_received(data)

    def _deliver_held(self) -> None:
        self._resume_call = None
        if self._tls is not None and not self._reading_paused and not self.disconnected:
            self._read()

    def _flush(self) -> None:
        outgoing = self._outgoing
        if outgoing is not None and outgoing.pending and self.transport is not None:
            self.transport.write(outgoing.read())

    def _shutdown(self) -> None:
        """Send close_notify and close the transport once it is written."""
        tls = self._tls
        assert tls is not None and self.transport is not None
        try:
            tls.unwrap()
        except ssl.SSLError:
            # SSLWantReadError: our close_notify is written, the peer's has not
            # come; we do not wait for it. Anything else: close all the same.
            pass
        self._flush()
        self.transport.lose_connection()

    def _timed_out(self) -> None:
        self._timer = None
        if self._handshaking:
            self._fail(f"no TLS handshake within {self._handshake_timeout:g}s")

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _fail(self, why: str) -> None:
        """Log one line, write any alert OpenSSL made, and abort."""
        if self.disconnected:
            return
        log.info("TLS connection with %s closed: %s", self._peer_text(), why)
        self._cancel_timer()
        self._flush()
        self.abort_connection()

    def _peer_text(self) -> str:
        try:
            peer = self.get_peer()
        except Exception:
            return "a peer"
        return f"{peer.host}:{peer.port}"

    def __repr__(self) -> str:
        return f"<TLSProtocol inner={type(self.inner).__name__} active={self.tls_active}>"


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason, short ("WRONG_VERSION_NUMBER"), for the log line."""
    return str(exc.reason or exc.strerror or exc)


class TLSServerFactory:
    """Wraps every protocol ``inner`` builds in a server-side :class:`TLSProtocol`.

    ``contexts`` is a :class:`TLSContexts` (the context for ``alpn`` is
    taken from it for each new connection, so a reload reaches new
    connections) or a function returning a context. A refusal (``None``
    from ``inner.build_protocol``) stays a refusal; a protocol that answers
    a refusal (HTTP's 503) is wrapped like any other. ``start=False``
    makes plain connections that may upgrade with ``start_tls``.
    """

    def __init__(
        self,
        inner: IProtocolFactory,
        contexts: TLSContexts | Callable[[], ssl.SSLContext],
        *,
        clock: IReactorTime,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        alpn: Sequence[str] = (),
        start: bool = True,
        max_buffer: int = MAX_BUFFER,
    ) -> None:
        self.inner = inner
        self.clock = clock
        self.handshake_timeout = handshake_timeout
        self.start = start
        self.max_buffer = max_buffer
        if isinstance(contexts, TLSContexts):
            self.context: Callable[[], ssl.SSLContext] = contexts.getter(alpn)
        else:
            self.context = contexts

    def do_start(self) -> None:
        self.inner.do_start()

    def do_stop(self) -> None:
        self.inner.do_stop()

    def build_protocol(self, addr: Address) -> TLSProtocol | None:
        protocol = self.inner.build_protocol(addr)
        if protocol is None:
            return None
        wrapper = TLSProtocol(
            protocol,
            self.context,
            server_side=True,
            clock=self.clock,
            start=self.start,
            handshake_timeout=self.handshake_timeout,
            max_buffer=self.max_buffer,
        )
        wrapper.factory = self
        return wrapper

    def __repr__(self) -> str:
        return f"<TLSServerFactory around {self.inner!r}>"


def wrap_for_starttls(
    protocol: IProtocol,
    contexts: TLSContexts | ContextSource,
    *,
    clock: IReactorTime,
    handshake_timeout: float = HANDSHAKE_TIMEOUT,
    alpn: Sequence[str] = (),
) -> TLSProtocol:
    """A server-side :class:`TLSProtocol` around ``protocol`` that starts plain.

    The protocol calls ``self.transport.start_tls()`` once it has written
    its "go ahead" reply (SMTP ``220``, POP3 ``+OK``).
    """
    context: ContextSource = (
        contexts.getter(alpn) if isinstance(contexts, TLSContexts) else contexts
    )
    return TLSProtocol(
        protocol,
        context,
        server_side=True,
        clock=clock,
        start=False,
        handshake_timeout=handshake_timeout,
    )


# The layer keeps both contracts: mypy checks these lines.
_AS_TRANSPORT: type[ITransport] = TLSProtocol
_AS_PROTOCOL: type[IProtocol] = TLSProtocol
_AS_FACTORY: type[IProtocolFactory] = TLSServerFactory
_AS_TLS_TRANSPORT: type[ITLSTransport] = TLSProtocol
