"""A Linux TCP client for the real-client tests: ``python tcp_bulk_client.py ADDRESS PORT OCTETS``.

Connects to an echo service, sends OCTETS pseudo-random octets while reading the echo back (so
neither direction waits on the other), then half-closes, reads until the end of the stream and
closes. Prints one JSON line: octets sent and received, their SHA-256 digests and the seconds the
transfer took. Standard library only: it runs in a namespace with `python -c`.
"""

from __future__ import annotations

import hashlib
import json
import random
import selectors
import socket
import sys
import time

CHUNK = 65536


def transfer(address: str, port: int, octets: int, timeout: float = 600.0) -> dict[str, object]:
    data = random.Random(octets).randbytes(octets)
    sent_digest, received_digest = hashlib.sha256(data), hashlib.sha256()
    sock = socket.create_connection((address, port), timeout=10.0)
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    start = time.monotonic()
    sent = received = 0
    eof = False
    while not eof:
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"sent {sent}, received {received} of {octets} octets in {timeout:g} s")
        for _key, events in selector.select(timeout=1.0):
            if events & selectors.EVENT_WRITE and sent < octets:
                sent += sock.send(data[sent:sent + CHUNK])
                if sent == octets:
                    sock.shutdown(socket.SHUT_WR)
                    selector.modify(sock, selectors.EVENT_READ)
            if events & selectors.EVENT_READ:
                chunk = sock.recv(CHUNK)
                if not chunk:
                    eof = True
                    break
                received += len(chunk)
                received_digest.update(chunk)
    seconds = time.monotonic() - start
    sock.close()
    return {"sent": sent, "received": received, "sha256_sent": sent_digest.hexdigest(),
            "sha256_received": received_digest.hexdigest(), "seconds": round(seconds, 3)}


if __name__ == "__main__":
    print(json.dumps(transfer(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
