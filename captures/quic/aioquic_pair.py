#!/usr/bin/env python3
"""One HTTP/3 GET over QUIC with aioquic (PyPI `aioquic`), server and client in one process.

    python3 aioquic_pair.py PORT SNI CERT KEY CAFILE VERSION CIPHER [SECRETS_LOG]

Both ends bind 127.0.0.1 only; the packets go through `lo`, so tcpdump sees them as from any
two processes. VERSION is `v1` or `v2` (RFC 9369, 0x6b3343cf): the client's
`supported_versions` is that one version only, so its first Initial is already in it. CIPHER is
an aioquic `CipherSuite` name (the client offers only that one). The server answers
`GET /` with a small body. CERT may hold the leaf followed by intermediates (all are sent).
No qlog is written; TLS secrets only when SECRETS_LOG is given: the client appends them there
in the NSS key log format (aioquic's `secrets_log_file`, what SSLKEYLOGFILE gives elsewhere).

Prints one JSON object of facts for truth.json: the client's original DCID and SCID (from
aioquic's own connection state), the negotiated version, ALPN and cipher as the client saw
them, the HTTP status. When the client rejects the server's certificate, the handshake fails
and the facts are instead `rejected: true` with the client's CONNECTION_CLOSE error code and
reason (a crypto error is 0x100 + the TLS alert, RFC 9001 §4.8).
"""
import asyncio
import json
import sys

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import CipherSuite

BODY = b"hello over h3\n"


class H3Server(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._h3 = None

    def quic_event_received(self, event):
        if self._h3 is None:
            self._h3 = H3Connection(self._quic)
        for ev in self._h3.handle_event(event):
            if isinstance(ev, HeadersReceived) and ev.stream_ended:
                self._h3.send_headers(ev.stream_id, [(b":status", b"200"),
                                                     (b"content-type", b"text/plain")])
                self._h3.send_data(ev.stream_id, BODY, end_stream=True)
        self.transmit()


class H3Client(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._h3 = H3Connection(self._quic)
        self.done = asyncio.get_event_loop().create_future()
        self.status = None
        self.body = b""

    def get(self, authority):
        sid = self._quic.get_next_available_stream_id()
        self._h3.send_headers(sid, [(b":method", b"GET"), (b":scheme", b"https"),
                                    (b":authority", authority.encode()), (b":path", b"/")],
                              end_stream=True)
        self.transmit()

    def quic_event_received(self, event):
        for ev in self._h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                self.status = dict(ev.headers).get(b":status", b"").decode()
            if isinstance(ev, DataReceived):
                self.body += ev.data
            if getattr(ev, "stream_ended", False) and not self.done.done():
                self.done.set_result(True)


async def main():
    port, sni, cert, key, cafile, version, cipher = sys.argv[1:8]
    secrets = open(sys.argv[8], "a") if len(sys.argv) > 8 else None
    port = int(port)
    ver = {"v1": QuicProtocolVersion.VERSION_1, "v2": QuicProtocolVersion.VERSION_2}[version]
    suite = CipherSuite[cipher]

    scfg = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    scfg.load_cert_chain(cert, key)
    server = await serve("127.0.0.1", port, configuration=scfg, create_protocol=H3Server)

    ccfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name=sni,
                             supported_versions=[ver], cipher_suites=[suite],
                             secrets_log_file=secrets)
    ccfg.load_verify_locations(cafile)
    facts = {}
    made = []

    def client_protocol(*a, **kw):
        made.append(H3Client(*a, **kw))
        return made[-1]

    # connect() resolves the host given; the SNI comes from server_name.
    try:
        async with connect("127.0.0.1", port, configuration=ccfg, create_protocol=client_protocol,
                           local_port=0) as client:
            facts = await fetch(client, sni, port)
    except ConnectionError:
        close = made[-1]._quic._close_event
        facts = {"rejected": True, "error_code": close.error_code, "reason": close.reason_phrase}
    await asyncio.sleep(0.3)
    server.close()
    if secrets:
        secrets.close()
    print(json.dumps(facts))


async def fetch(client, sni, port):
    """One GET on a connected client; the facts read from its connection state."""
    q = client._quic
    client.get(f"{sni}:{port}")
    await asyncio.wait_for(client.done, 10)
    return {
        "client_original_dcid": q._original_destination_connection_id.hex(),
        "client_scid": q.host_cid.hex(),
        "server_scid": q._peer_cid.cid.hex(),
        "version": int(q._version),
        "alpn_offered": list(H3_ALPN),
        "alpn_negotiated": q.tls.alpn_negotiated,
        "cipher_suite": int(q.tls.key_schedule.cipher_suite),
        "http_status": client.status,
        "body": client.body.decode(),
    }


if __name__ == "__main__":
    asyncio.run(main())
