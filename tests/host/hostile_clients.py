#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""(t-hostile.sh) Hostile clients against a running ined's internode port (host, software
TLS).  Usage: hostile_clients.py PORT GOOD_DIR FOREIGN_DIR API_SOCKET INECTL.
A connection "got in" if the TLS handshake completed and the agent kept it
open for 2 s (an accepted data-plane connection waits for its route header);
the member's own certificate must get in (the control), every hostile one
must not.  Then slowloris (60, 100, and a stream of fresh connections
stalled after 1 byte: a member's handshake completes within 2 s, inectl
status answers within 3 s, and the agent closes every stalled one within 8 s)
and a flood of 500 connections."""
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

# slowloris: connections that send 1 byte and stall.  60 (under the 64
# places), then 100 (over them), then an attacker that keeps opening fresh
# ones: each time a member's handshake must complete within 2 s (when the
# places are full, a connection that has gone 1 s without a whole
# ClientHello gives up its place; the agent drops any after the 3 s
# ClientHello deadline), and every stalled connection must be closed by the
# agent within 8 s of stalling.
def member_handshake():
    """Seconds a member's TLS handshake took, or None if it failed."""
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        t = ctx(good).wrap_socket(s)
        dt = time.time() - t0
        t.settimeout(0.5)
        try:
            if t.recv(1) == b"":
                return None     # dropped right after the handshake
        except (socket.timeout, TimeoutError):
            pass
        return dt
    except (ssl.SSLError, OSError):
        return None
    finally:
        s.close()

stalled = []
def stall(n):
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"\x16"); stalled.append((time.time(), s))

def member_within(what, bound=2.0):
    dt = member_handshake()
    if dt is None or dt > bound:
        fail(f"slowloris {what}: member handshake " +
             ("failed" if dt is None else f"took {dt:.2f}s") + f" (bound {bound}s)")
    return dt if dt is not None else float("nan")

def reap(limit):
    """Stalled connections the agent closed within `limit` s of stalling."""
    closed = 0
    for t_open, s in stalled:
        s.settimeout(max(0.1, limit - (time.time() - t_open)))
        try:
            if s.recv(10) == b"":
                closed += 1
        except (ConnectionResetError, BrokenPipeError):
            closed += 1
        except (socket.timeout, TimeoutError):
            pass
        s.close()
    n = len(stalled)
    stalled.clear()
    return closed, n

stall(60)
dt = member_within("60")
print(f"  slowloris 60: member handshake {dt:.3f}s; status {status_ok(3):.2f}s")
stall(40)
dt = member_within("100")
print(f"  slowloris 100: member handshake {dt:.3f}s; status {status_ok(3):.2f}s")
closed, n = reap(8)
print(f"  slowloris: {closed}/{n} stalled connections closed by the agent within 8 s of stalling")
if closed != n:
    fail(f"slowloris: only {closed}/{n} stalled connections closed within 8 s")
# a persistent attacker: 20 fresh stalled connections every 0.25 s for 10 s
worst, t_end, opened = 0.0, time.time() + 10, 0
while time.time() < t_end:
    stall(20); opened += 20
    dt = member_within("persistent")
    worst = max(worst, dt)
    time.sleep(0.25)
closed, n = reap(8)
print(f"  slowloris persistent: {opened} stalled connections in 10 s; worst member handshake {worst:.3f}s; {closed}/{n} closed by the agent; status {status_ok(3):.2f}s")
if closed != n:
    fail(f"slowloris persistent: only {closed}/{n} stalled connections closed within 8 s")

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
