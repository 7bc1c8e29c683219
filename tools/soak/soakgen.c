// SPDX-License-Identifier: GPL-2.0
/*
 * soakgen — the traffic of `make soak`: many long-lived TCP connections in
 * one libevent process, each carrying a deterministic byte stream that an
 * echo server returns and the client verifies byte by byte.
 *
 *   soakgen echo --port P [--flip-at N]
 *   soakgen client --port P --conns N --seconds S [--rate BYTES] [--chunk BYTES]
 *                  [--stream-base K] [--stats FILE] [--ramp N]
 *
 * Client: keeps N connections to 127.0.0.1:P open for S seconds. Connection
 * k's stream is byte i = byte (i mod 8) of splitmix64(k * 2^40 + i / 8), so
 * every byte of every stream is known; each connection writes about --rate
 * bytes a second (in --chunk pieces, timers spread over the second) with at
 * most 64 KiB unverified in flight, and checks what comes back against the
 * stream. A mismatch is counted as corrupt and closes the connection. A
 * connection that ends (reset, EOF) is counted and re-opened with a new
 * stream id after 1-3 s, at most --ramp (8) connections in setup at once, so a toggle's resets show as resets and
 * never as lost or wrong bytes. Every second the counters go to --stats
 * (key value lines, written atomically). At the end writing stops, the
 * bytes in flight drain (120 s at most), and the summary is printed.
 * SIGUSR1 ends the run early (the harness times its minutes itself).
 * The stats also give the setup latency (open to first byte echoed) and
 * all_up_at, the second every connection was first flowing.
 * echo --flip-at N corrupts the N-th byte it returns: the self-test that
 * shows the client's check can fail.
 * Exit 0 when no byte was corrupt and every byte sent on a connection that
 * was flowing (had a byte echoed) and stayed up was verified; 1 otherwise.
 * Connections still in setup at the end are counted (unestablished_at_end).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define INFLIGHT_MAX	(64 * 1024)
#define DRAIN_SECONDS	120

struct conn {
	struct bufferevent *bev;
	struct event *tick;
	uint64_t stream;	/* stream id: which deterministic stream */
	uint64_t sent;		/* bytes of the stream written */
	uint64_t verified;	/* bytes echoed back and equal */
	bool up;		/* connected */
	bool want;		/* to be (re)opened once reopen_at has passed */
	uint64_t reopen_at;	/* ms, monotonic */
	uint64_t opened_at;	/* ms, monotonic: conn_open */
	unsigned int slot;
};

static struct {
	struct event_base *base;
	struct sockaddr_in addr;
	unsigned int conns, chunk, rate, ramp;
	uint64_t stream_next;
	struct conn *c;
	const char *stats;
	bool draining, closing;
	uint64_t flip_at;	/* echo: corrupt the byte at this total (self-test) */
	uint64_t echoed;
	time_t start, end;
	/* counters */
	uint64_t opened, connected, resets, resets_inflight, connect_fail;
	uint64_t corrupt_conns, corrupt_bytes, bytes_sent, bytes_verified;
	uint64_t lost_at_end, unestablished_at_end;
	unsigned int open_now, up_now;
	/* setup latency: conn_open to the first byte echoed back */
	uint64_t setup_n, setup_ms_sum, setup_ms_max;
	long all_up_at;		/* s from start: every connection first flowing, -1 */
} G;

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* n bytes of stream k from offset off */
static void stream_fill(uint64_t k, uint64_t off, unsigned char *p, size_t n)
{
	uint64_t w = 0, wi = UINT64_MAX;
	size_t i;

	for (i = 0; i < n; i++, off++) {
		if (off / 8 != wi) {
			wi = off / 8;
			w = mix((k << 40) + wi);
		}
		p[i] = (unsigned char)(w >> ((off % 8) * 8));
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The connection ended: count it and, unless draining, open a new one
 * after 1-3 s (the ramp timer does, a few at a time). */
static void conn_end(struct conn *c, bool corrupt)
{
	if (c->up)
		G.up_now--;
	if (c->bev)
		G.open_now--;
	if (G.closing) {
		;	/* the run's own end: not a reset */
	} else if (!corrupt && c->up) {
		G.resets++;
		if (c->sent != c->verified)
			G.resets_inflight++;
	} else if (!corrupt) {
		G.connect_fail++;
	}
	if (G.draining && !G.closing && c->verified && c->sent != c->verified)
		G.lost_at_end += c->sent - c->verified;
	if (c->bev)
		bufferevent_free(c->bev);
	c->bev = NULL;
	c->up = false;
	evtimer_del(c->tick);
	c->want = !G.draining;
	c->reopen_at = now_ms() + 1000 + (uint64_t)(rand() % 2000);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char got[4096], want[4096];
	size_t n, i;

	while ((n = evbuffer_remove(in, got, sizeof(got))) > 0) {
		if (c->verified + n > c->sent) {	/* more than we sent */
			G.corrupt_bytes += c->verified + n - c->sent;
			G.corrupt_conns++;
			fprintf(stderr, "soakgen: stream %llu: %zu bytes echoed beyond the %llu sent\n",
				(unsigned long long)c->stream, n, (unsigned long long)c->sent);
			conn_end(c, true);
			return;
		}
		stream_fill(c->stream, c->verified, want, n);
		if (memcmp(got, want, n)) {
			for (i = 0; i < n && got[i] == want[i]; i++)
				;
			G.corrupt_bytes += n - i;
			G.corrupt_conns++;
			fprintf(stderr, "soakgen: stream %llu: corrupt byte at offset %llu (got %#x, want %#x)\n",
				(unsigned long long)c->stream,
				(unsigned long long)(c->verified + i), got[i], want[i]);
			conn_end(c, true);
			return;
		}
		if (!c->verified) {
			uint64_t ms = now_ms() - c->opened_at;

			G.setup_n++;
			G.setup_ms_sum += ms;
			if (ms > G.setup_ms_max)
				G.setup_ms_max = ms;
		}
		c->verified += n;
		G.bytes_verified += n;
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg);

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	int one = 1;

	if (what & BEV_EVENT_CONNECTED) {
		c->up = true;
		G.up_now++;
		G.connected++;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tick_cb(-1, 0, c);	/* first bytes at once: setup ends sooner */
		return;
	}
	conn_end(c, false);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	unsigned char buf[65536];
	size_t n = G.chunk;

	(void)fd;
	(void)what;
	if (!c->bev || !c->up || G.draining)
		return;
	if (c->sent - c->verified + n > INFLIGHT_MAX)
		return;		/* back-pressure: the echo is behind */
	if (n > sizeof(buf))
		n = sizeof(buf);
	stream_fill(c->stream, c->sent, buf, n);
	bufferevent_write(c->bev, buf, n);
	c->sent += n;
	G.bytes_sent += n;
}

static void conn_open(struct conn *c)
{
	/* ticks per second so that chunk * ticks ~ rate */
	double per_s = (double)G.rate / G.chunk;
	long us = per_s > 0 ? (long)(1e6 / per_s) : 1000000;
	struct timeval iv = { us / 1000000, us % 1000000 };

	c->want = false;
	c->stream = G.stream_next++;
	c->sent = c->verified = 0;
	c->up = false;
	c->opened_at = now_ms();
	c->bev = bufferevent_socket_new(G.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		fprintf(stderr, "soakgen: bufferevent_socket_new failed\n");
		exit(2);
	}
	G.open_now++;
	G.opened++;
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&G.addr, sizeof(G.addr))) {
		conn_end(c, false);
		return;
	}
	event_add(c->tick, &iv);
}

static void write_stats(const char *phase)
{
	char tmp[4096];
	unsigned int i, flowing = 0;
	FILE *f;

	if (!G.stats)
		return;
	for (i = 0; i < G.conns; i++)
		flowing += G.c[i].bev && G.c[i].verified;
	if (flowing == G.conns && G.all_up_at < 0)
		G.all_up_at = (long)(time(NULL) - G.start);
	snprintf(tmp, sizeof(tmp), "%s.tmp", G.stats);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "phase %s\nelapsed %ld\nconns_open %u\nconns_up %u\nconns_flowing %u\nopened %llu\n"
		"connected %llu\nresets %llu\nresets_inflight %llu\nconnect_fail %llu\n"
		"corrupt_conns %llu\ncorrupt_bytes %llu\nbytes_sent %llu\n"
		"bytes_verified %llu\nlost_at_end %llu\nunestablished_at_end %llu\n"
		"setup_n %llu\nsetup_ms_avg %llu\nsetup_ms_max %llu\nall_up_at %ld\n",
		phase, (long)(time(NULL) - G.start), G.open_now, G.up_now, flowing,
		(unsigned long long)G.opened, (unsigned long long)G.connected,
		(unsigned long long)G.resets, (unsigned long long)G.resets_inflight,
		(unsigned long long)G.connect_fail,
		(unsigned long long)G.corrupt_conns, (unsigned long long)G.corrupt_bytes,
		(unsigned long long)G.bytes_sent, (unsigned long long)G.bytes_verified,
		(unsigned long long)G.lost_at_end,
		(unsigned long long)G.unestablished_at_end,
		(unsigned long long)G.setup_n,
		(unsigned long long)(G.setup_n ? G.setup_ms_sum / G.setup_n : 0),
		(unsigned long long)G.setup_ms_max, G.all_up_at);
	if (fclose(f) == 0)
		rename(tmp, G.stats);
}

static bool drained(void)
{
	unsigned int i;

	for (i = 0; i < G.conns; i++)
		if (G.c[i].bev && G.c[i].sent != G.c[i].verified)
			return false;
	return true;
}

/* SIGUSR1: the run's time is up now (the harness counts its minutes
 * from when every connection is flowing). */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!G.draining)
		G.end = time(NULL);
}

static void second_cb(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);
	unsigned int i;

	(void)fd;
	(void)what;
	(void)arg;
	if (!G.draining && now >= G.end) {
		G.draining = true;
		G.end = now + DRAIN_SECONDS;
	}
	if (G.draining && (drained() || now >= G.end)) {
		G.closing = true;
		/* a connection that never got a byte back is still in setup
		 * (its route is being made): counted apart, not as lost */
		for (i = 0; i < G.conns; i++)
			if (G.c[i].bev && !G.c[i].verified)
				G.unestablished_at_end++;
			else if (G.c[i].bev && G.c[i].sent != G.c[i].verified)
				G.lost_at_end += G.c[i].sent - G.c[i].verified;
		for (i = 0; i < G.conns; i++)
			if (G.c[i].bev)
				conn_end(&G.c[i], false);
		write_stats("done");
		event_base_loopbreak(G.base);
		return;
	}
	write_stats(G.draining ? "draining" : "running");
}

/*
 * Opens wanted connections while fewer than --ramp are still in setup (no
 * byte verified yet): under emulation every routed connection costs a TLS
 * handshake between agents, and a thousand at once would all hit the
 * relay's setup timeout and retry forever.
 */
static void ramp_cb(evutil_socket_t fd, short what, void *arg)
{
	unsigned int i, setup = 0;
	uint64_t now = now_ms();

	(void)fd;
	(void)what;
	(void)arg;
	if (G.draining)
		return;
	for (i = 0; i < G.conns; i++)
		setup += G.c[i].bev && !G.c[i].verified;
	for (i = 0; i < G.conns && setup < G.ramp; i++) {
		if (G.c[i].want && !G.c[i].bev && now >= G.c[i].reopen_at) {
			conn_open(&G.c[i]);
			setup++;
		}
	}
}

static void echo_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	unsigned char *p;

	(void)arg;
	if (G.flip_at && G.echoed < G.flip_at && G.echoed + n >= G.flip_at) {
		p = evbuffer_pullup(in, -1);
		p[G.flip_at - G.echoed - 1] ^= 0x20;
	}
	G.echoed += n;
	bufferevent_write_buffer(bev, in);
}

static void echo_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void echo_accept(struct evconnlistener *l, evutil_socket_t fd,
			struct sockaddr *sa, int len, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(G.base, fd, BEV_OPT_CLOSE_ON_FREE);

	(void)l;
	(void)sa;
	(void)len;
	(void)arg;
	if (!bev) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, echo_read, NULL, echo_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: soakgen echo --port P\n"
		"       soakgen client --port P --conns N --seconds S [--rate BYTES/s]\n"
		"                      [--chunk BYTES] [--stream-base K] [--stats FILE] [--ramp N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "stream-base", required_argument, NULL, 'k' },
		{ "stats", required_argument, NULL, 'S' },
		{ "flip-at", required_argument, NULL, 'F' },
		{ "ramp", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	struct evconnlistener *lis;
	struct event *sec, *ramp, *stop;
	struct timeval one = { 1, 0 }, tenth = { 0, 100000 };
	unsigned int i, port = 0, seconds = 60;
	bool echo;
	int o;

	if (argc < 2)
		usage();
	echo = !strcmp(argv[1], "echo");
	if (!echo && strcmp(argv[1], "client"))
		usage();
	G.conns = 10;
	G.chunk = 256;
	G.rate = 512;
	G.ramp = 8;
	G.all_up_at = -1;
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': port = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'n': G.conns = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 's': seconds = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'r': G.rate = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'c': G.chunk = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'k': G.stream_next = strtoull(optarg, NULL, 0); break;
		case 'S': G.stats = optarg; break;
		case 'R': G.ramp = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'F': G.flip_at = strtoull(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (!port || port > 65535 || !G.conns || !G.chunk)
		usage();
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	srand((unsigned int)getpid());
	G.base = event_base_new();
	if (!G.base)
		return 2;
	G.addr.sin_family = AF_INET;
	G.addr.sin_port = htons((uint16_t)port);
	G.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	if (echo) {
		lis = evconnlistener_new_bind(G.base, echo_accept, NULL,
					      LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, 4096,
					      (struct sockaddr *)&G.addr, sizeof(G.addr));
		if (!lis) {
			fprintf(stderr, "soakgen: cannot listen on 127.0.0.1:%u: %s\n",
				port, strerror(errno));
			return 2;
		}
		event_base_dispatch(G.base);
		return 0;
	}

	G.c = calloc(G.conns, sizeof(*G.c));
	if (!G.c)
		return 2;
	G.start = time(NULL);
	G.end = G.start + seconds;
	for (i = 0; i < G.conns; i++) {
		G.c[i].slot = i;
		G.c[i].tick = event_new(G.base, -1, EV_PERSIST, tick_cb, &G.c[i]);
		G.c[i].want = true;
	}
	ramp = event_new(G.base, -1, EV_PERSIST, ramp_cb, NULL);
	event_add(ramp, &tenth);
	sec = event_new(G.base, -1, EV_PERSIST, second_cb, NULL);
	event_add(sec, &one);
	stop = evsignal_new(G.base, SIGUSR1, stop_cb, NULL);
	event_add(stop, NULL);
	event_base_dispatch(G.base);

	printf("soakgen: %u conns %u s: opened %llu connected %llu resets %llu "
	       "(with bytes in flight %llu) connect_fail %llu bytes_sent %llu "
	       "bytes_verified %llu corrupt_bytes %llu corrupt_conns %llu lost_at_end %llu unestablished_at_end %llu "
	       "setups %llu (avg %llu ms, max %llu ms) all_up_at %ld s\n",
	       G.conns, seconds, (unsigned long long)G.opened,
	       (unsigned long long)G.connected, (unsigned long long)G.resets,
	       (unsigned long long)G.resets_inflight, (unsigned long long)G.connect_fail,
	       (unsigned long long)G.bytes_sent, (unsigned long long)G.bytes_verified,
	       (unsigned long long)G.corrupt_bytes, (unsigned long long)G.corrupt_conns,
	       (unsigned long long)G.lost_at_end,
	       (unsigned long long)G.unestablished_at_end,
	       (unsigned long long)G.setup_n,
	       (unsigned long long)(G.setup_n ? G.setup_ms_sum / G.setup_n : 0),
	       (unsigned long long)G.setup_ms_max, G.all_up_at);
	return G.corrupt_bytes || G.lost_at_end || !G.bytes_verified ? 1 : 0;
}
