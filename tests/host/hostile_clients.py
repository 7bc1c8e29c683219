#!/usr/bin/env python3
"""(t-hostile.sh) Hostile clients against a running ined's internode port (host, software
TLS).  Usage: hostile_clients.py PORT GOOD_DIR FOREIGN_DIR API_SOCKET INECTL.
A connection "got in" if the TLS handshake completed and the agent kept it
open for 2 s (an accepted data-plane connection waits for its route header);
the member's own certificate must get in (the control), every hostile one
must not.  Then slowloris (100 connections stalled after 1 byte: the member
still gets in, inectl status answers within 3 s, and the agent closes the
stalled ones by 25 s: the 36 over the bound wait in the accept backlog and then get 10 s of their own) and a flood of 500 connections."""
import warnings; warnings.simplefilter("ignore", DeprecationWarning)
import os, socket, ssl, subprocess, sys, time

port, good, foreign, api, ctl = sys.argv[1:6]
port = int(port)
fails = []

def fail(msg):
    print("FAIL:", msg); fails.append(msg)

def ctx(cert_dir=None, ver=None, ciphers=None, suites13=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    c.set_alpn_protocols(["ine-dp/1"])
    if ver:
        c.minimum_version = c.maximum_version = ver
    if ciphers:
        c.set_ciphers(ciphers)
    if cert_dir:
        c.load_cert_chain(cert_dir + "/dp.crt", cert_dir + "/dp.key")
    return c

def got_in(c):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        t = c.wrap_socket(s)
        t.settimeout(2)
        try:
            d = t.recv(1)
            return False if d == b"" else True
        except (socket.timeout, TimeoutError):
            return True
        except (ssl.SSLError, OSError):
            return False
    except (ssl.SSLError, OSError):
        return False
    finally:
        s.close()

def raw_refused(data, what):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        d = s.recv(4096)
        # at most a TLS alert comes back, never application data
        if d and d[0] not in (0x15, 0x16):
            fail(f"{what}: the agent answered {d[:20]!r}")
        s.settimeout(5)
        while s.recv(4096):
            pass
    except OSError as e:  # reset / not connected: the agent dropped it
        if isinstance(e, socket.timeout):
            fail(f"{what}: connection still open after 5 s")
    s.close()

def status_ok(bound):
    t0 = time.time()
    r = subprocess.run([ctl, "status"], env=dict(os.environ, INE_API_SOCKET=api),
                       capture_output=True, timeout=30)
    dt = time.time() - t0
    if r.returncode != 0 or dt > bound:
        fail(f"inectl status: exit {r.returncode} in {dt:.2f}s (bound {bound}s)")
    return dt

tally = 0
if not got_in(ctx(good)):
    fail("control: the member's own certificate did not get in (the test cannot tell)")
cases = [
    ("no client certificate", ctx()),
    ("another cluster's node certificate", ctx(foreign)),
    ("TLS 1.0", ctx(good, ssl.TLSVersion.TLSv1, "ALL:@SECLEVEL=0")),
    ("TLS 1.1", ctx(good, ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0")),
    ("TLS 1.2 CBC suite", ctx(good, ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES256-SHA384")),
    ("TLS 1.2 CHACHA20", ctx(good, ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-CHACHA20-POLY1305")),
]
for what, c in cases:
    tally += 1
    if got_in(c):
        fail(f"{what}: got in")
# raw hostile bytes: plaintext, garbage, a truncated ClientHello
hello = bytearray()
m_in, m_out = ssl.MemoryBIO(), ssl.MemoryBIO()
o = ctx(good).wrap_bio(m_in, m_out)
try:
    o.do_handshake()
except ssl.SSLWantReadError:
    hello = m_out.read()
for what, data in [("plaintext", b"GET / HTTP/1.0\r\n\r\n" * 10),
                   ("random garbage", os.urandom(4096)),
                   ("truncated ClientHello", hello[: len(hello) // 2]),
                   ("ClientHello header only", hello[:5])]:
    tally += 1
    raw_refused(data, what)
print(f"  {tally} hostile clients refused; status {status_ok(3):.2f}s")

# slowloris: 60 connections (under the 64 bound) each send 1 byte and stall:
# the member still gets in at once.  Then 40 more (100, over the bound): the
# member must get in once the 10 s handshake timeout frees places (<= 12 s).
import warnings
stalled = []
def stall(n):
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"\x16"); stalled.append(s)
t_stall = time.time()
stall(60)
t0 = time.time()
if not got_in(ctx(good)):
    fail("slowloris: the member could not get in while 60 handshakes stalled")
print(f"  slowloris 60: member in after {time.time()-t0:.2f}s; status {status_ok(3):.2f}s")
stall(40)
t0 = time.time()
while not got_in(ctx(good)):
    if time.time() - t0 > 12:
        fail("slowloris: member still locked out 12 s after 100 stalled handshakes"); break
print(f"  slowloris 100: member in after {time.time()-t0:.2f}s (bound 64 in progress, 10 s each); status {status_ok(3):.2f}s")
t0 = time.time()
closed = 0
for s in stalled:
    s.settimeout(max(0.1, 25 - (time.time() - t_stall)))
    try:
        if s.recv(10) == b"":
            closed += 1
    except ConnectionResetError:
        closed += 1
    except (socket.timeout, TimeoutError):
        pass
    s.close()
print(f"  slowloris: {closed}/100 stalled connections closed by the agent within {time.time()-t_stall:.1f}s of stalling")
if closed != 100:
    fail(f"slowloris: only {closed}/100 stalled handshakes were closed within 25 s (those over the bound wait in the backlog, then get their own 10 s)")

# flood: 500 connections opened and dropped as fast as possible
t0 = time.time()
for i in range(500):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.close()
    except OSError:
        pass
if not got_in(ctx(good)):
    fail("flood: the member could not get in after 500 connections")
print(f"  flood: 500 connections in {time.time()-t0:.2f}s; status {status_ok(3):.2f}s")
sys.exit(1 if fails else 0)
