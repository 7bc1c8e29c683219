// SPDX-License-Identifier: GPL-2.0
/* VM test helper for the plaintext guard.
 *
 *   kmod_guard config off|audit|enforce [PORT...]
 *   kmod_guard serve PORT SECS [ktls 12|13 128|256]
 *        accept one connection, read until EOF/reset/SECS, print the bytes
 *   kmod_guard send ADDR PORT BYTES plain|registered|ktls [12|13 128|256]
 *        registered: a session in state handshaking; ktls: offloaded;
 *        waits KMOD_GUARD_WAIT seconds (default 30) for the receiver, or
 *        with KMOD_GUARD_CLOSE set closes at once after writing
 *   serve honours KMOD_GUARD_RCVBUF (bytes) and KMOD_GUARD_DELAY (seconds
 *   to wait after the go-ahead before reading)
 *   kmod_guard events SECS     print the type of every event for SECS
 *   kmod_guard window MS       set the guard's handshake window
 *   kmod_guard keeper SECS     an agent's view for SECS: reads the totals
 *        and checks for a module reload every 200 ms (inenl replays)
 *   send honours KMOD_GUARD_LATE (seconds to wait before writing); send
 *   mode plaintextdb registers an explicit plaintext database session
 */
#include <poll.h>
#include <sys/ioctl.h>
#include <stdint.h>
#include <time.h>
#include "inenl/inenl.h"
#include "kmod_util.h"

static int mode_of(const char *s)
{
	if (!strcmp(s, "off"))
		return INE_GUARD_OFF;
	if (!strcmp(s, "audit"))
		return INE_GUARD_AUDIT;
	if (!strcmp(s, "enforce"))
		return INE_GUARD_ENFORCE;
	MUST(0, "unknown mode %s", s);
	return -1;
}

static int config(int argc, char *argv[])
{
	uint16_t ports[INE_GUARD_MAX_PORTS];
	unsigned int n = 0;
	struct inenl *nl;
	int i, ret;

	for (i = 3; i < argc && n < INE_GUARD_MAX_PORTS; i++)
		ports[n++] = (uint16_t)atoi(argv[i]);
	MUST(inenl_open(&nl) == 0, "inenl_open");
	ret = inenl_config_set(nl, mode_of(argv[2]), ports, n, 0);
	if (ret)
		fprintf(stderr, "config: %s (%s)\n", strerror(-ret),
			inenl_last_error(nl));
	inenl_close(nl);
	return ret ? 1 : 0;
}

static unsigned version_of(const char *v)
{
	return !strcmp(v, "12") ? TLS_1_2_VERSION : TLS_1_3_VERSION;
}

static int serve(int port, int secs, int argc, char *argv[])
{
	int lfd, fd, rcvbuf = getenv("KMOD_GUARD_RCVBUF") ?
		atoi(getenv("KMOD_GUARD_RCVBUF")) : 0;
	struct pollfd p = { .events = POLLIN };
	time_t end = time(NULL) + secs;
	char buf[16384];
	long total = 0;
	ssize_t r = 0;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	MUST(lfd >= 0, "socket");
	if (rcvbuf)	/* before listen: accepted sockets inherit it */
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	{
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)port) };
		int one = 1;

		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		MUST(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind");
		MUST(listen(lfd, 16) == 0, "listen");
	}
	p.fd = lfd;
	printf("listening\n");
	fflush(stdout);
	if (poll(&p, 1, secs * 1000) != 1) {
		fprintf(stderr, "serve: no connection in %d s\n", secs);
		printf("0\n");
		return 0;
	}
	fd = accept(lfd, NULL, NULL);
	MUST(fd >= 0, "accept");
	{
		struct timeval tv = { 1, 0 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (argc >= 7 && !strcmp(argv[4], "ktls"))
		kt_ktls(fd, false, version_of(argv[5]), atoi(argv[6]));
	/* The go-ahead: the sender writes only once our kernel TLS receive
	 * side is installed (records queued before TLS_RX was set were seen
	 * to stall on 6.1). */
	kt_write_all(fd, "g", 1);
	if (getenv("KMOD_GUARD_DELAY"))	/* let the sender close first */
		sleep((unsigned)atoi(getenv("KMOD_GUARD_DELAY")));
	p.fd = fd;
	while (time(NULL) < end) {
		if (poll(&p, 1, 200) != 1)
			continue;
		r = read(fd, buf, sizeof(buf));
		if (r < 0)
			fprintf(stderr, "serve: read: %s\n", strerror(errno));
		if (r <= 0)
			break;
		total += r;
	}
	if (!total) {	/* say why, for the test log */
		int queued = -1, e = errno;

		ioctl(fd, FIONREAD, &queued);
		fprintf(stderr, "serve: nothing read (%s, last read %zd: %s); "
			"%d bytes queued in TCP\n",
			time(NULL) >= end ? "timed out" : "ended", r,
			r < 0 ? strerror(e) : "-", queued);
	}
	printf("%ld\n", total);
	close(fd);
	close(lfd);
	return 0;
}

static int sender(int argc, char *argv[])
{
	struct inenl_session_add a = { .plane = INE_PLANE_DATA };
	struct linger lg = { 1, 0 };
	size_t bytes = (size_t)atol(argv[4]);
	const char *mode = argv[5];
	struct inenl *nl = NULL;
	struct pollfd p;
	char *buf = malloc(bytes), c;
	uint32_t id = 0;
	int fd;

	MUST(buf, "malloc");
	memset(buf, 'p', bytes);
	fd = kt_connect(argv[2], atoi(argv[3]));
	if (strcmp(mode, "plain")) {
		MUST(inenl_open(&nl) == 0, "inenl_open");
		a.fd = fd;
		MUST(inenl_session_add(nl, &a, &id) == 0, "register: %s",
		     inenl_last_error(nl));
	}
	if (!strcmp(mode, "plaintextdb"))
		MUST(inenl_session_set_state(nl, id, -1, INE_STATE_PLAINTEXT) == 0 &&
		     inenl_session_update(nl, id, &(struct inenl_session_add){
			     .fd = fd, .db_id = 7 }) == 0,
		     "plaintext db: %s", inenl_last_error(nl));
	if (!strcmp(mode, "ktls")) {
		MUST(argc >= 8, "ktls needs version and bits");
		kt_ktls(fd, true, version_of(argv[6]), atoi(argv[7]));
		MUST(inenl_session_set_state(nl, id, -1, INE_STATE_OFFLOADED) == 0,
		     "offloaded: %s", inenl_last_error(nl));
	}
	kt_read_all(fd, &c, 1);		/* the receiver is ready */
	if (getenv("KMOD_GUARD_LATE"))
		sleep((unsigned)atoi(getenv("KMOD_GUARD_LATE")));
	kt_write_all(fd, buf, bytes);
	if (getenv("KMOD_GUARD_CLOSE")) {	/* plain close(): FIN after the data */
		close(fd);
		inenl_close(nl);
		free(buf);
		return 0;
	}
	shutdown(fd, SHUT_WR);		/* the receiver stops at EOF */
	/* Wait for the receiver to finish (it closes at our EOF), or give up
	 * after KMOD_GUARD_WAIT seconds (default 30) and reset: a reset
	 * before the receiver read everything would discard its queue. */
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, 1000 * (getenv("KMOD_GUARD_WAIT") ?
				atoi(getenv("KMOD_GUARD_WAIT")) : 30)) == 1)
		(void)!read(fd, &c, 1);
	/* reset rather than leave a FIN stuck behind dropped data */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	inenl_close(nl);
	free(buf);
	return 0;
}

static void print_event(const struct inenl_event *ev, void *arg)
{
	static const char *names[] = {
		[INENL_EV_SESSION_UP] = "session_up",
		[INENL_EV_SESSION_STATE] = "session_state",
		[INENL_EV_SESSION_DOWN] = "session_down",
		[INENL_EV_GUARD_DROP] = "guard_drop",
		[INENL_EV_KEY_USAGE] = "key_usage",
	};

	(void)arg;
	if (ev->type == INENL_EV_GUARD_DROP)
		printf("%s %s %u %u %llu\n", names[ev->type],
		       inenl_guard_mode_name(ev->guard.mode), ev->session.sport,
		       ev->session.dport,
		       (unsigned long long)ev->guard.unregistered);
	else
		printf("%s %u\n", names[ev->type], ev->session.id);
}

static int events(int secs)
{
	time_t end = time(NULL) + secs;
	struct inenl *ev;
	struct pollfd p;

	MUST(inenl_events_open(&ev) == 0, "inenl_events_open");
	p.fd = inenl_events_fd(ev);
	p.events = POLLIN;
	printf("subscribed\n");
	while (time(NULL) < end)
		if (poll(&p, 1, 100) == 1)
			MUST(inenl_events_read(ev, print_event, NULL) == 0, "events");
	inenl_close(ev);
	return 0;
}

static int window(uint32_t ms)
{
	struct inenl *nl;
	int ret;

	MUST(inenl_open(&nl) == 0, "inenl_open");
	ret = inenl_handshake_window_set(nl, ms);
	if (ret)
		fprintf(stderr, "window: %s (%s)\n", strerror(-ret),
			inenl_last_error(nl));
	inenl_close(nl);
	return ret ? 1 : 0;
}

static int keeper(int secs)
{
	time_t end = time(NULL) + secs;
	struct inenl_totals t;
	struct inenl *nl;

	MUST(inenl_open(&nl) == 0, "inenl_open");
	printf("keeping\n");
	while (time(NULL) < end) {
		inenl_totals_get(nl, &t);
		inenl_check(nl);
		usleep(200000);
	}
	printf("replays %lu\n", inenl_replays());
	inenl_close(nl);
	return 0;
}

int main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "config"))
		return config(argc, argv);
	if (argc >= 4 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]), atoi(argv[3]), argc, argv);
	if (argc >= 6 && !strcmp(argv[1], "send"))
		return sender(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "window"))
		return window((uint32_t)atol(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "keeper"))
		return keeper(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "events"))
		return events(atoi(argv[2]));
	fprintf(stderr, "usage: see the comment at the top of kmod_guard.c\n");
	return 2;
}
