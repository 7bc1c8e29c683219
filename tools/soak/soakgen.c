/*
 * soakgen — the traffic of `make soak`: many long-lived TCP connections in
 * one libevent process, each carrying a deterministic byte stream that an
 * echo server returns and the client verifies byte by byte.
 *
 *   soakgen echo --port P [--flip-at N]
 *   soakgen client --port P --conns N --seconds S [--rate BYTES] [--chunk BYTES]
 *                  [--stream-base K] [--stats FILE]
 *
 * Client: keeps N connections to 127.0.0.1:P open for S seconds. Connection
 * k's stream is byte i = byte (i mod 8) of splitmix64(k * 2^40 + i / 8), so
 * every byte of every stream is known; each connection writes about --rate
 * bytes a second (in --chunk pieces, timers spread over the second) with at
 * most 64 KiB unverified in flight, and checks what comes back against the
 * stream. A mismatch is counted as corrupt and closes the connection. A
 * connection that ends (reset, EOF) is counted and re-opened with a new
 * stream id after a short pause, so a toggle's resets show as resets and
 * never as lost or wrong bytes. Every second the counters go to --stats
 * (key value lines, written atomically). At the end writing stops, the
 * bytes in flight drain (30 s at most), and the summary is printed.
 * echo --flip-at N corrupts the N-th byte it returns: the self-test that
 * shows the client's check can fail.
 * Exit 0 when no byte was corrupt and every byte sent on a connection that
 * stayed up was verified; 1 otherwise.
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
#define DRAIN_SECONDS	30

struct conn {
	struct bufferevent *bev;
	struct event *tick;
	uint64_t stream;	/* stream id: which deterministic stream */
	uint64_t sent;		/* bytes of the stream written */
	uint64_t verified;	/* bytes echoed back and equal */
	bool up;		/* connected */
	unsigned int slot;
};

static struct {
	struct event_base *base;
	struct sockaddr_in addr;
	unsigned int conns, chunk, rate;
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
	uint64_t lost_at_end;
	unsigned int open_now, up_now;
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

static void conn_open(struct conn *c);

static void reopen_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (!G.draining)
		conn_open(arg);
}

/* The connection ended: count it and, unless draining, open a new one. */
static void conn_end(struct conn *c, bool corrupt)
{
	struct timeval later = { 0, 200000 + (rand() % 800) * 1000 };

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
	if (G.draining && !G.closing && c->sent != c->verified)
		G.lost_at_end += c->sent - c->verified;
	if (c->bev)
		bufferevent_free(c->bev);
	c->bev = NULL;
	c->up = false;
	evtimer_del(c->tick);
	if (!G.draining)
		event_base_once(G.base, -1, EV_TIMEOUT, reopen_cb, c, &later);
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
		c->verified += n;
		G.bytes_verified += n;
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	int one = 1;

	if (what & BEV_EVENT_CONNECTED) {
		c->up = true;
		G.up_now++;
		G.connected++;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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

	c->stream = G.stream_next++;
	c->sent = c->verified = 0;
	c->up = false;
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
	FILE *f;

	if (!G.stats)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", G.stats);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "phase %s\nelapsed %ld\nconns_open %u\nconns_up %u\nopened %llu\n"
		"connected %llu\nresets %llu\nresets_inflight %llu\nconnect_fail %llu\n"
		"corrupt_conns %llu\ncorrupt_bytes %llu\nbytes_sent %llu\n"
		"bytes_verified %llu\nlost_at_end %llu\n",
		phase, (long)(time(NULL) - G.start), G.open_now, G.up_now,
		(unsigned long long)G.opened, (unsigned long long)G.connected,
		(unsigned long long)G.resets, (unsigned long long)G.resets_inflight,
		(unsigned long long)G.connect_fail,
		(unsigned long long)G.corrupt_conns, (unsigned long long)G.corrupt_bytes,
		(unsigned long long)G.bytes_sent, (unsigned long long)G.bytes_verified,
		(unsigned long long)G.lost_at_end);
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
		for (i = 0; i < G.conns; i++)
			if (G.c[i].bev && G.c[i].sent != G.c[i].verified)
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
		"                      [--chunk BYTES] [--stream-base K] [--stats FILE]\n");
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
		{ NULL, 0, NULL, 0 }
	};
	struct evconnlistener *lis;
	struct event *sec;
	struct timeval one = { 1, 0 };
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
		conn_open(&G.c[i]);
	}
	sec = event_new(G.base, -1, EV_PERSIST, second_cb, NULL);
	event_add(sec, &one);
	event_base_dispatch(G.base);

	printf("soakgen: %u conns %u s: opened %llu connected %llu resets %llu "
	       "(with bytes in flight %llu) connect_fail %llu bytes_sent %llu "
	       "bytes_verified %llu corrupt_bytes %llu corrupt_conns %llu lost_at_end %llu\n",
	       G.conns, seconds, (unsigned long long)G.opened,
	       (unsigned long long)G.connected, (unsigned long long)G.resets,
	       (unsigned long long)G.resets_inflight, (unsigned long long)G.connect_fail,
	       (unsigned long long)G.bytes_sent, (unsigned long long)G.bytes_verified,
	       (unsigned long long)G.corrupt_bytes, (unsigned long long)G.corrupt_conns,
	       (unsigned long long)G.lost_at_end);
	return G.corrupt_bytes || G.lost_at_end || !G.bytes_verified ? 1 : 0;
}
