#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""(t-hostile-dos.sh) Pre-authentication denial of service on the internode
port.  Usage: hostile_dos.py PORT GOOD_DIR PID PHASE...

Each phase runs an attack from addresses that are not the member's (the
member is 127.0.0.1 and has already got in once, so the agent knows it),
and asserts that a member's handshake still completes within BOUND seconds
every time it tries while the attack goes on:
  hello1   slowloris after a whole ClientHello, from one address: every
           connection sends its ClientHello (which costs the agent its RSA
           signature) and then never answers
  hellomany  the same from 200 addresses
  flood    handshakes completed by the agent and dropped by the client, as
           fast as 4 threads can, from 50 addresses
  fds      the agent's file descriptors exhausted: silent connections held
           open against an agent limited to 40 fds; the agent must not
           spin on accept() (its CPU over the phase is bounded) and a member
           still gets in
"""
import warnings; warnings.simplefilter("ignore", DeprecationWarning)
import os, socket, ssl, sys, threading, time

port, good, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
phases = sys.argv[4:]
BOUND = 2.0
fails = []

def fail(msg):
    print("FAIL:", msg, flush=True); fails.append(msg)

def ctx(cert_dir=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    c.set_alpn_protocols(["ine-dp/1"])
    if cert_dir:
        c.load_cert_chain(cert_dir + "/dp.crt", cert_dir + "/dp.key")
    return c

GOOD = ctx(good)
ANON = ctx()

def conn(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s

def member_handshake():
    """Seconds a member's TLS handshake took, or None if it failed."""
    t0 = time.time()
    try:
        s = conn("127.0.0.1")
    except OSError:
        return None
    try:
        t = GOOD.wrap_socket(s)
        dt = time.time() - t0
        t.settimeout(0.3)
        try:
            if t.recv(1) == b"":
                return None
        except (socket.timeout, TimeoutError):
            pass
        return dt
    except (ssl.SSLError, OSError):
        return None
    finally:
        s.close()

def client_hello():
    m_in, m_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ANON.wrap_bio(m_in, m_out)
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return m_out.read()

def cpu_seconds():
    with open(f"/proc/{pid}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")

class Attack(threading.Thread):
    """Runs fn(i) in a loop until stopped; holds what fn returns."""
    def __init__(self, fn, rate=None):
        super().__init__(daemon=True)
        self.fn, self.rate, self.stop, self.held, self.n = fn, rate, False, [], 0
    def run(self):
        while not self.stop:
            t0 = time.time()
            try:
                h = self.fn(self.n)
                if h is not None:
                    self.held.append(h)
            except OSError:
                pass
            self.n += 1
            if self.rate:
                time.sleep(max(0.0, 1.0 / self.rate - (time.time() - t0)))
    def end(self):
        self.stop = True
        self.join(10)
        for s in self.held:
            s.close()

def members_during(what, attacks, secs, warmup=1.0):
    """Start the attacks, then try a member handshake every 0.5 s."""
    for a in attacks:
        a.start()
    time.sleep(warmup)
    worst, tries, bad = 0.0, 0, 0
    t_end = time.time() + secs
    while time.time() < t_end:
        dt = member_handshake()
        tries += 1
        if dt is None or dt > BOUND:
            bad += 1
            print(f"  {what}: member handshake " + ("failed" if dt is None else f"took {dt:.2f}s"),
                  flush=True)
        else:
            worst = max(worst, dt)
        time.sleep(0.5)
    n = sum(a.n for a in attacks)
    for a in attacks:
        a.end()
    if bad:
        fail(f"{what}: {bad} of {tries} member handshakes failed or took over {BOUND}s")
    print(f"  {what}: {n} attacking connections in {secs + warmup:.0f}s; "
          f"{tries - bad}/{tries} member handshakes within {BOUND}s (worst {worst:.3f}s)",
          flush=True)

HELLO = client_hello()

def stall_after_hello(src):
    def fn(i):
        s = conn(src(i))
        s.sendall(HELLO)
        return s            # never read, never answer
    return fn

def flood(src):
    def fn(i):
        s = conn(src(i))
        try:
            s.sendall(HELLO)
            s.settimeout(2)
            s.recv(65536)   # the agent's first flight: its RSA work is done
        finally:
            s.close()
    return fn

def silent(src):
    def fn(i):
        return conn(src(i))
    return fn

if member_handshake() is None:
    fail("control: the member could not get in before any attack (the test cannot tell)")

for ph in phases:
    if ph == "hello1":
        members_during("slowloris after ClientHello, one address",
                       [Attack(stall_after_hello(lambda i: "127.0.0.5"), rate=12)], 16)
    elif ph == "hellomany":
        members_during("slowloris after ClientHello, 200 addresses",
                       [Attack(stall_after_hello(lambda i: f"127.0.1.{1 + i % 200}"), rate=25)], 16)
    elif ph == "flood":
        members_during("handshake flood (complete and drop), 50 addresses",
                       [Attack(flood(lambda i, k=k: f"127.0.2.{1 + (i * 4 + k) % 50}"))
                        for k in range(4)], 10)
    elif ph == "fds":
        c0, t0 = cpu_seconds(), time.time()
        members_during("fd exhaustion, silent connections held",
                       [Attack(silent(lambda i: f"127.0.3.{1 + i % 100}"), rate=300)], 8)
        cpu = (cpu_seconds() - c0) / (time.time() - t0)
        print(f"  fd exhaustion: the agent used {cpu:.0%} of a core", flush=True)
        if cpu > 0.3:
            fail(f"fd exhaustion: the agent used {cpu:.0%} of a core (spinning on accept?)")
    else:
        fail(f"unknown phase {ph}")
    time.sleep(1)
if member_handshake() is None:
    fail("after the attacks: the member could not get in")
sys.exit(1 if fails else 0)
