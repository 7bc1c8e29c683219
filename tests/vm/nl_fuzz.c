// SPDX-License-Identifier: GPL-2.0
/*
 * nl_fuzz — random and malformed generic netlink messages to ine.ko.
 *
 *   nl_fuzz [-n MESSAGES] [-u UNPRIV_MESSAGES] [-s SEED] [-c]
 *
 * Runs in a network namespace of its own (unshare, so the registry starts
 * empty and the session count at the end means something). Builds a pool of
 * file descriptors of every kind the module must tell apart (connected TCP,
 * TCP with kernel TLS both ways, listening TCP, unconnected TCP, IPv6 TCP,
 * UDP, Unix, a pipe, a file, an eventfd, the netlink socket itself, a TCP
 * socket of another namespace, closed numbers, numbers open only in another
 * process, -1 and huge numbers), then sends MESSAGES messages as root:
 * every command number 0..255 (weighted to the real ones), attribute trees
 * built right and then mutated (wrong types and lengths, nla_len 0 / short /
 * beyond the message / misaligned, garbage nests, duplicates, missing
 * required attributes, NLM_F_DUMP on do-commands and the reverse, flag
 * noise, truncated and overlong headers), with valid messages mixed in so
 * the deep paths run. Then a child drops to uid/gid 65534 and sends
 * UNPRIV_MESSAGES more: every mutating command must get -EPERM.
 *
 * -c adds a thread that closes and re-makes a TCP pair every ~2 ms while
 * root fuzzes (sockets dying under every command); without it a pair is
 * recycled every 400 messages, which the seed reproduces exactly.
 *
 * Every message is followed by an NLMSG_NOOP sentinel with NLM_F_ACK, so a
 * message the kernel drops silently is counted as "no reply" instead of
 * hanging the reader. Replies are tallied by command and errno.
 *
 * While root fuzzes, a second socket listens on the "events" group: every
 * event must be a well-formed message carrying INE_A_SESSION.
 *
 * At the end every pool fd is closed and a valid GET_TOTALS must answer
 * with 0 live sessions and added == removed (no leaked references), with
 * exactly one SESSION_UP event per registration and one SESSION_DOWN per
 * removal (unless the event socket overran).
 *
 * Exit 0 when all of that held, 1 on a failed check, 2 on a setup error.
 * The seed is printed; -s SEED replays the same messages.
 */
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <pthread.h>
#include <time.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <linux/ine.h>
#include "kmod_util.h"

#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#define MSG_MAX		4096
#define NCMD		256
#define NERR		140	/* errno slots; 0 = ok */
#define R_NOREPLY	(NERR)	/* dropped silently (bad outer header) */
#define R_DUMP		(NERR + 1)	/* dump ran to NLMSG_DONE 0 */
#define NRES		(NERR + 2)
#define TCP_PAIRS	12
#define FD_ELSEWHERE	777	/* open in the holder child only */

/* ---- seeded PRNG (splitmix64): the seed replays the run ---- */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int below(unsigned int n) { return (unsigned int)(rnd() % n); }
static bool chance(unsigned int percent) { return below(100) < percent; }

/* ---- the fd pool ---- */
struct pool {
	int lfd;			/* listener: also a pool member */
	int pair[TCP_PAIRS][2];		/* connected loopback pairs */
	int ktls[2];			/* a pair with kernel TLS both ways */
	int unconn, v6c, v6s, udp, unx, pipe_r, file, evfd, nl, foreign;
	int closed;			/* a number that was open, now closed */
	pid_t holder;			/* child holding FD_ELSEWHERE */
	unsigned long recycled;
};

static struct pool P;

static void pool_pair(int i)
{
	kt_pair(P.lfd, &P.pair[i][0], &P.pair[i][1]);
}

static int v6_pair(int *c, int *s)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET6, SOCK_STREAM, 0);

	*c = *s = -1;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(l, 4) || getsockname(l, (struct sockaddr *)&a, &len))
		goto out;
	*c = socket(AF_INET6, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&a, sizeof(a)))
		goto out;
	*s = accept(l, NULL, NULL);
out:
	if (l >= 0)
		close(l);
	return *s >= 0 ? 0 : -1;
}

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	MUST(fd >= 0, "socket");
	strcpy(ifr.ifr_name, "lo");
	MUST(ioctl(fd, SIOCGIFFLAGS, &ifr) == 0, "SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	MUST(ioctl(fd, SIOCSIFFLAGS, &ifr) == 0, "SIOCSIFFLAGS lo up");
	close(fd);
}

static void pool_open(int nl)
{
	int sv[2], pfd[2], i, t;

	/* another namespace's socket first, then our own namespace */
	P.foreign = socket(AF_INET, SOCK_STREAM, 0);
	MUST(P.foreign >= 0, "socket");
	MUST(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET)");
	lo_up();
	P.nl = nl;
	P.lfd = kt_listen("127.0.0.1", 0);
	for (i = 0; i < TCP_PAIRS; i++)
		pool_pair(i);
	kt_pair(P.lfd, &P.ktls[0], &P.ktls[1]);
	kt_ktls(P.ktls[0], true, TLS_1_2_VERSION, 128);
	kt_ktls(P.ktls[1], false, TLS_1_2_VERSION, 128);
	P.unconn = socket(AF_INET, SOCK_STREAM, 0);
	if (v6_pair(&P.v6c, &P.v6s))
		fprintf(stderr, "nl_fuzz: no IPv6 loopback pair (%s); IPv4 only\n",
			strerror(errno));
	P.udp = socket(AF_INET, SOCK_DGRAM, 0);
	MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	P.unx = sv[0];
	close(sv[1]);
	MUST(pipe(pfd) == 0, "pipe");
	P.pipe_r = pfd[0];
	close(pfd[1]);
	P.file = open("/proc/self/status", O_RDONLY);
	P.evfd = eventfd(0, 0);
	MUST(P.unconn >= 0 && P.udp >= 0 && P.file >= 0 && P.evfd >= 0, "pool fds");
	P.closed = dup(P.file);
	close(P.closed);

	/* another process's fd number: a TCP socket at FD_ELSEWHERE there */
	MUST(fcntl(FD_ELSEWHERE, F_GETFD) < 0, "fd %d already open", FD_ELSEWHERE);
	P.holder = fork();
	MUST(P.holder >= 0, "fork");
	if (P.holder == 0) {
		t = dup2(P.pair[0][0], FD_ELSEWHERE);
		if (t < 0)
			_exit(1);
		pause();
		_exit(0);
	}
}

/* Close a pair (its sessions must vanish by themselves) and make a new one. */
static void pool_recycle_at(int i)
{
	int c, sv;

	close(__atomic_load_n(&P.pair[i][0], __ATOMIC_RELAXED));
	close(__atomic_load_n(&P.pair[i][1], __ATOMIC_RELAXED));
	kt_pair(P.lfd, &c, &sv);
	__atomic_store_n(&P.pair[i][0], c, __ATOMIC_RELAXED);
	__atomic_store_n(&P.pair[i][1], sv, __ATOMIC_RELAXED);
	__atomic_add_fetch(&P.recycled, 1, __ATOMIC_RELAXED);
}

static void pool_recycle(void)
{
	pool_recycle_at((int)below(TCP_PAIRS));
}

/*
 * The closer thread (-c): recycles a random pair every ~2 ms while root
 * fuzzes, so sockets die while they are being registered, set, dumped and
 * deleted. Its timing is not reproducible (the message stream still is);
 * it draws from its own generator so the seed keeps meaning the same
 * messages.
 */
static volatile int closer_stop;

static void *closer_main(void *arg)
{
	uint64_t r = (uint64_t)(uintptr_t)arg;

	while (!closer_stop) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		pool_recycle_at((int)((r >> 33) % TCP_PAIRS));
		usleep(2000);
	}
	return NULL;
}

static void pool_close(void)
{
	int i;

	for (i = 0; i < TCP_PAIRS; i++) {
		close(P.pair[i][0]);
		close(P.pair[i][1]);
	}
	close(P.ktls[0]);
	close(P.ktls[1]);
	close(P.lfd);
	if (P.v6c >= 0)
		close(P.v6c);
	if (P.v6s >= 0)
		close(P.v6s);
	close(P.unconn);
	close(P.udp);
	close(P.unx);
	close(P.pipe_r);
	close(P.file);
	close(P.evfd);
	close(P.foreign);
	if (P.holder > 0) {
		kill(P.holder, SIGKILL);
		waitpid(P.holder, NULL, 0);
	}
}

/* An fd number for INE_SESSION_A_FD: mostly real TCP sockets. */
static uint32_t pick_fd(void)
{
	switch (below(24)) {
	case 0: return (uint32_t)P.lfd;
	case 1: return (uint32_t)P.unconn;
	case 2: return (uint32_t)(P.v6c >= 0 ? P.v6c : P.unconn);
	case 3: return (uint32_t)(P.v6s >= 0 ? P.v6s : P.unconn);
	case 4: return (uint32_t)P.udp;
	case 5: return (uint32_t)P.unx;
	case 6: return (uint32_t)P.pipe_r;
	case 7: return (uint32_t)P.file;
	case 8: return (uint32_t)P.evfd;
	case 9: return (uint32_t)P.nl;
	case 10: return (uint32_t)P.foreign;
	case 11: return (uint32_t)P.closed;
	case 12: return FD_ELSEWHERE;
	case 13: return 0xffffffffu;			/* -1 */
	case 14: return (uint32_t)INT_MAX;
	case 15: return 0x80000000u;			/* beyond INT_MAX */
	case 16: return (uint32_t)rnd();
	case 17: case 18: return (uint32_t)P.ktls[below(2)];
	default: return (uint32_t)__atomic_load_n(&P.pair[below(TCP_PAIRS)][below(2)],
						  __ATOMIC_RELAXED);
	}
}

/* ---- message building ---- */
struct msg {
	unsigned char b[MSG_MAX];
	size_t len;
};

static void *put(struct msg *m, size_t n)
{
	void *p;

	if (m->len + NLA_ALIGN(n) > sizeof(m->b))
		return NULL;
	p = m->b + m->len;
	memset(p, 0, NLA_ALIGN(n));
	m->len += NLA_ALIGN(n);
	return p;
}

static void attr(struct msg *m, uint16_t type, const void *data, size_t n)
{
	struct nlattr *a = put(m, NLA_HDRLEN + n);

	if (!a)
		return;
	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + n);
	if (n)
		memcpy((char *)a + NLA_HDRLEN, data, n);
}

static size_t nest_start(struct msg *m, uint16_t type)
{
	size_t off = m->len;
	struct nlattr *a = put(m, NLA_HDRLEN);

	if (a)
		a->nla_type = type | (chance(90) ? NLA_F_NESTED : 0);
	return off;
}

static void nest_end(struct msg *m, size_t off)
{
	struct nlattr *a = (struct nlattr *)(m->b + off);

	if (off + NLA_HDRLEN <= m->len)
		a->nla_len = (uint16_t)(m->len - off);
}

static void garbage(struct msg *m, size_t n)
{
	unsigned char *p = put(m, n);
	size_t i;

	for (i = 0; p && i < n; i++)
		p[i] = (unsigned char)rnd();
}

/* A value for an attribute of a given wire type, sometimes the wrong size. */
static void attr_sized(struct msg *m, uint16_t type, int natural, uint64_t v)
{
	static const int sizes[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 64 };
	unsigned char buf[64] = { 0 };
	int n = chance(85) ? natural : sizes[below(sizeof(sizes) / sizeof(sizes[0]))];

	memcpy(buf, &v, sizeof(v));
	attr(m, type, buf, (size_t)n);
}

static void attr_string(struct msg *m, uint16_t type, size_t limit)
{
	char s[200];
	size_t n, i;
	bool nul = chance(80);

	switch (below(4)) {
	case 0: n = 0; break;
	case 1: n = limit - 1; break;		/* longest that fits */
	case 2: n = limit + below(40); break;	/* too long */
	default: n = below((unsigned int)limit); break;
	}
	if (n >= sizeof(s) - 1)
		n = sizeof(s) - 2;
	for (i = 0; i < n; i++)
		s[i] = chance(3) ? (char)rnd() : (char)('a' + below(26));
	s[n] = '\0';
	attr(m, type, s, n + (nul ? 1 : 0));
}

static uint8_t small_enum(unsigned int max)
{
	return chance(80) ? (uint8_t)(1 + below(max)) : (uint8_t)below(256);
}

/* The INE_A_SESSION nest; which fields depends on the command. */
static void session_nest(struct msg *m, int cmd)
{
	size_t off = nest_start(m, INE_A_SESSION);
	bool want_fd = cmd == INE_CMD_SESSION_ADD || chance(50);
	bool want_id = !want_fd || chance(10);
	unsigned int i, extra;

	if (want_fd && chance(95))
		attr_sized(m, INE_SESSION_A_FD, 4, pick_fd());
	if (want_id && chance(95))
		attr_sized(m, INE_SESSION_A_ID, 4,
			   chance(70) ? 1 + below(200) : (chance(50) ? 0 : rnd()));
	if (cmd == INE_CMD_SESSION_ADD || cmd == INE_CMD_SESSION_SET || chance(10)) {
		if (cmd != INE_CMD_SESSION_ADD || chance(95))
			if (chance(cmd == INE_CMD_SESSION_ADD ? 100 : 30))
				attr_sized(m, INE_SESSION_A_PLANE, 1, small_enum(INE_PLANE_MAX));
		if (chance(60))
			attr_sized(m, INE_SESSION_A_STATE, 1, small_enum(INE_STATE_MAX));
		if (chance(50))
			attr_sized(m, INE_SESSION_A_DB_ID, 4, below(5));
		if (chance(50))
			attr_sized(m, INE_SESSION_A_PEER_NODE_ID, 4, below(5));
		if (chance(40))
			attr_string(m, INE_SESSION_A_PEER_NAME, INE_NAME_LEN);
		if (chance(40))
			attr_string(m, INE_SESSION_A_CERT_SERIAL, INE_SERIAL_LEN);
		if (chance(40))
			attr_sized(m, INE_SESSION_A_CERT_EXPIRY, 8, rnd());
	}
	/* reply-only or unknown attributes in a request */
	extra = chance(15) ? 1 + below(3) : 0;
	for (i = 0; i < extra; i++)
		attr_sized(m, (uint16_t)(INE_SESSION_A_AGE_MS + below(INE_SESSION_A_MAX + 8 -
								     INE_SESSION_A_AGE_MS)),
			   8, rnd());
	if (chance(5))
		garbage(m, 1 + below(32));
	nest_end(m, off);
}

static void guard_nest(struct msg *m)
{
	size_t off = nest_start(m, INE_A_GUARD), po;
	unsigned int i, n;

	if (chance(70))
		attr_sized(m, INE_GUARD_A_MODE, 1,
			   chance(85) ? below(INE_GUARD_MODE_MAX + 1) : below(256));
	if (chance(50)) {
		po = nest_start(m, INE_GUARD_A_PORTS);
		n = chance(10) ? 0 : (chance(10) ? INE_GUARD_MAX_PORTS + below(4)
						 : 1 + below(3));
		for (i = 0; i < n; i++)
			attr_sized(m, chance(95) ? INE_PORT_A_PORT : (uint16_t)below(4), 2,
				   chance(90) ? 3342 + below(4) : below(2));
		nest_end(m, po);
	}
	if (chance(5))	/* counters are reply-only */
		attr_sized(m, (uint16_t)(INE_GUARD_A_PASSED + below(5)), 8, rnd());
	nest_end(m, off);
}

/* Mutations applied to a built payload (the attributes after genlmsghdr). */
static void mutate(struct msg *m, size_t first)
{
	struct nlattr *a;
	size_t off, n;
	unsigned int k, rounds = 1 + below(3);

	for (k = 0; k < rounds; k++) {
		/* find an attribute boundary at the top level or one level in */
		off = first;
		if (m->len > first + NLA_HDRLEN && chance(60)) {
			a = (struct nlattr *)(m->b + first);
			if ((a->nla_type & NLA_F_NESTED) || a->nla_type == INE_A_SESSION ||
			    a->nla_type == INE_A_GUARD)
				off = first + NLA_HDRLEN;
		}
		if (off + NLA_HDRLEN > m->len) {
			garbage(m, 1 + below(16));
			continue;
		}
		a = (struct nlattr *)(m->b + off);
		switch (below(10)) {
		case 0: a->nla_len = 0; break;
		case 1: a->nla_len = (uint16_t)below(NLA_HDRLEN); break;	/* short */
		case 2: a->nla_len = (uint16_t)(m->len - off + 1 + below(300)); break; /* beyond */
		case 3: a->nla_len = (uint16_t)(a->nla_len + 1 + below(3)); break; /* misaligned */
		case 4: a->nla_type = (uint16_t)rnd(); break;
		case 5: a->nla_type ^= NLA_F_NESTED; break;
		case 6: a->nla_type |= NLA_F_NET_BYTEORDER; break;
		case 7:	/* duplicate the first attribute at the end */
			n = a->nla_len;
			if (n >= NLA_HDRLEN && off + n <= m->len && m->len + NLA_ALIGN(n) <= MSG_MAX) {
				memmove(m->b + m->len, m->b + off, n);
				m->len += NLA_ALIGN(n);
			}
			break;
		case 8:	/* a nest of garbage */
			off = nest_start(m, (uint16_t)below(INE_A_MAX + 3));
			garbage(m, below(40));
			nest_end(m, off);
			break;
		default:	/* flip a byte */
			m->b[first + below((unsigned int)(m->len - first))] ^= (unsigned char)(1 + below(255));
			break;
		}
	}
}

static int pick_cmd(void)
{
	unsigned int r = below(100);

	if (r < 78)
		return 1 + (int)below(INE_CMD_SET_CONFIG);	/* the real ones */
	if (r < 88)
		return INE_CMD_EVENT_SESSION_UP + (int)below(5);	/* no handler */
	if (r < 92)
		return 0;
	return (int)below(NCMD);
}

static bool is_mutating(int cmd)
{
	return cmd == INE_CMD_SESSION_ADD || cmd == INE_CMD_SESSION_SET ||
	       cmd == INE_CMD_SESSION_DEL || cmd == INE_CMD_SET_CONFIG;
}

struct built {
	int cmd;
	bool dump;		/* NLM_F_DUMP set */
	bool hdr_ok;		/* outer header sane: the kernel must answer */
	bool hdr_clean;		/* and nothing the genl core refuses before
				 * the permission check (reserved, flags) */
	bool mutated;
};

/* One fuzz message into m; what it is into b. */
static void build(struct msg *m, uint16_t family, uint32_t seq, struct built *b)
{
	struct nlmsghdr *nh;
	struct genlmsghdr *gh;
	size_t first;
	unsigned int i;

	memset(b, 0, sizeof(*b));
	m->len = 0;
	nh = put(m, NLMSG_HDRLEN);
	gh = put(m, GENL_HDRLEN);
	b->cmd = pick_cmd();
	gh->cmd = (uint8_t)b->cmd;
	gh->version = chance(90) ? INE_GENL_VERSION : (uint8_t)rnd();
	gh->reserved = chance(95) ? 0 : (uint16_t)(1 + below(0xfffe));
	b->hdr_clean = !gh->reserved;
	nh->nlmsg_type = family;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (b->cmd == INE_CMD_SESSION_GET ? chance(40) : chance(12))
		nh->nlmsg_flags |= NLM_F_DUMP;
	if (chance(3)) {
		nh->nlmsg_flags |= (uint16_t)(rnd() & 0x0f3c);	/* flag noise */
		b->hdr_clean = false;
	}
	nh->nlmsg_seq = seq;
	nh->nlmsg_pid = chance(97) ? 0 : (uint32_t)rnd();
	first = m->len;

	switch (b->cmd) {
	case INE_CMD_SESSION_ADD:
	case INE_CMD_SESSION_SET:
	case INE_CMD_SESSION_DEL:
		if (chance(95))
			session_nest(m, b->cmd);
		break;
	case INE_CMD_SESSION_GET:
		if (!(nh->nlmsg_flags & NLM_F_DUMP) || chance(20))
			session_nest(m, b->cmd);
		break;
	case INE_CMD_SET_CONFIG:
		if (chance(75))
			guard_nest(m);
		if (chance(40))
			attr_sized(m, INE_A_KEY_WARN_RECORDS, 8,
				   chance(70) ? 1 + below(1000000) :
				   (chance(50) ? 0 : rnd()));
		break;
	case INE_CMD_GET_TOTALS:
		break;
	default:
		if (chance(50))
			session_nest(m, INE_CMD_SESSION_GET);
		break;
	}
	/* top-level noise: reply-only or unknown attributes */
	if (chance(8))
		for (i = 0; i < 1 + below(3); i++)
			attr_sized(m, (uint16_t)(INE_A_TOTALS + below(INE_A_MAX + 6)), 4, rnd());
	if (chance(35)) {
		mutate(m, first);
		b->mutated = true;
	}
	nh->nlmsg_len = (uint32_t)m->len;
	b->hdr_ok = true;
	if (chance(2)) {	/* outer header lies */
		b->hdr_ok = b->hdr_clean = false;
		switch (below(3)) {
		case 0: nh->nlmsg_len = (uint32_t)(m->len + 4 + below(100)); break;
		case 1: nh->nlmsg_len = (uint32_t)below(NLMSG_HDRLEN); break;
		default:	/* header present, genl header cut */
			nh->nlmsg_len = (uint32_t)(NLMSG_HDRLEN + below(GENL_HDRLEN));
			m->len = nh->nlmsg_len;
			break;
		}
	}
	if (chance(1)) {	/* not a request at all */
		nh->nlmsg_flags &= (uint16_t)~NLM_F_REQUEST;
		b->hdr_ok = b->hdr_clean = false;
	}
	b->dump = (nh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
}

/* ---- talking to the kernel ---- */
struct stats {
	unsigned long res[NCMD][NRES];
	unsigned long sent, replies, dump_msgs;
	unsigned long unpriv_bad;	/* mutating, sane header, not -EPERM */
	unsigned long unpriv_clean;	/* mutating with a clean header */
	char ext[24][96];		/* extack messages seen, and how often */
	unsigned long ext_n[24];
};

static void ext_note(struct stats *st, const char *msg)
{
	int i;

	for (i = 0; i < 24 && st->ext[i][0]; i++)
		if (!strncmp(st->ext[i], msg, sizeof(st->ext[i]) - 1)) {
			st->ext_n[i]++;
			return;
		}
	if (i < 24) {
		snprintf(st->ext[i], sizeof(st->ext[i]), "%s", msg);
		st->ext_n[i] = 1;
	}
}

static void ext_parse(struct stats *st, const struct nlmsghdr *nh)
{
	const struct nlattr *a;
	size_t off = NLMSG_HDRLEN + sizeof(struct nlmsgerr);

	if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	while (off + NLA_HDRLEN <= nh->nlmsg_len) {
		a = (const struct nlattr *)((const char *)nh + off);
		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > nh->nlmsg_len)
			return;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG &&
		    a->nla_len > NLA_HDRLEN)
			ext_note(st, (const char *)a + NLA_HDRLEN);
		off += NLA_ALIGN(a->nla_len);
	}
}

static int raw_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	int one = 1;

	MUST(fd >= 0, "netlink socket");
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return fd;
}

static void raw_send(int fd, const void *buf, size_t len)
{
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };

	MUST(sendto(fd, buf, len, 0, (struct sockaddr *)&k, sizeof(k)) == (ssize_t)len,
	     "netlink sendto");
}

/*
 * Send one message and its sentinel; return the result class (errno 0..,
 * R_DUMP or R_NOREPLY). A dump reply may still be running when the
 * sentinel's ACK arrives (dumps continue as we read), so read on until
 * its NLMSG_DONE.
 */
static int exchange(int fd, const struct msg *m, uint32_t seq, struct stats *st,
		    int *payload)
{
	static unsigned char rbuf[65536];
	struct { struct nlmsghdr nh; } noop = {
		{ .nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = NLMSG_NOOP,
		  .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = seq + 1 } };
	bool sentinel = false, in_dump = false;
	int res = R_NOREPLY, e;
	struct nlmsghdr *nh;
	ssize_t r;
	size_t len;

	*payload = 0;
	raw_send(fd, m->b, m->len);
	raw_send(fd, &noop, sizeof(noop));
	st->sent++;
	while (!sentinel || in_dump) {
		r = recv(fd, rbuf, sizeof(rbuf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		MUST(r > 0, "netlink recv");
		len = (size_t)r;
		for (nh = (struct nlmsghdr *)rbuf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq == seq + 1) {
				if (nh->nlmsg_type == NLMSG_ERROR)
					sentinel = true;
				continue;
			}
			if (nh->nlmsg_seq != seq)
				continue;	/* stale: cannot happen, ignore */
			st->replies++;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				e = -((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				res = e >= 0 && e < NERR ? e : NERR - 1;
				if (e)
					ext_parse(st, nh);
				in_dump = false;
			} else if (nh->nlmsg_type == NLMSG_DONE) {
				e = nh->nlmsg_len >= NLMSG_HDRLEN + 4 ?
				    -*(int *)NLMSG_DATA(nh) : 0;
				res = e == 0 ? R_DUMP : (e > 0 && e < NERR ? e : NERR - 1);
				in_dump = false;
			} else if (nh->nlmsg_flags & NLM_F_MULTI) {
				in_dump = true;
				st->dump_msgs++;
				(*payload)++;
			} else {
				(*payload)++;	/* a doit's reply, ACK follows */
			}
		}
	}
	return res;
}

static uint16_t family_id(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int id;

	MUST(sk, "nl_socket_alloc");
	MUST(genl_connect(sk) == 0, "genl_connect");
	id = genl_ctrl_resolve(sk, INE_GENL_NAME);
	nl_socket_free(sk);
	if (id < 0) {
		fprintf(stderr, "nl_fuzz: generic netlink family '%s' not found (%s): is ine.ko loaded?\n",
			INE_GENL_NAME, nl_geterror(id));
		exit(2);
	}
	return (uint16_t)id;
}

static const char *cmd_name(int c)
{
	static const char *n[] = { "UNSPEC", "SESSION_ADD", "SESSION_SET",
		"SESSION_DEL", "SESSION_GET", "GET_TOTALS", "SET_CONFIG",
		"EV_SESSION_UP", "EV_SESSION_STATE", "EV_SESSION_DOWN",
		"EV_GUARD_DROP", "EV_KEY_USAGE" };

	return c < (int)(sizeof(n) / sizeof(n[0])) ? n[c] : NULL;
}

static const char *res_name(int r, char *buf, size_t n)
{
	if (r == 0)
		return "ok";
	if (r == R_NOREPLY)
		return "noreply";
	if (r == R_DUMP)
		return "dump-ok";
	snprintf(buf, n, "E%s", strerrorname_np(r) ? strerrorname_np(r) + 1 : "?");
	return buf;
}

static void print_table(const char *who, const struct stats *st)
{
	unsigned long row[NRES] = { 0 }, other[NRES] = { 0 };
	char buf[32];
	int c, r, i;
	bool any;

	printf("%s: %lu messages, %lu replies (%lu dump parts)\n", who, st->sent,
	       st->replies, st->dump_msgs);
	for (c = 0; c < NCMD; c++) {
		any = false;
		for (r = 0; r < NRES; r++)
			any |= st->res[c][r] != 0;
		if (!any)
			continue;
		if (!cmd_name(c)) {
			for (r = 0; r < NRES; r++)
				other[r] += st->res[c][r];
			continue;
		}
		printf("  %-17s", cmd_name(c));
		for (r = 0; r < NRES; r++)
			if (st->res[c][r])
				printf(" %s=%lu", res_name(r, buf, sizeof(buf)), st->res[c][r]);
		putchar('\n');
		for (r = 0; r < NRES; r++)
			row[r] += st->res[c][r];
	}
	printf("  %-17s", "cmd 12..255");
	for (r = 0; r < NRES; r++)
		if (other[r])
			printf(" %s=%lu", res_name(r, buf, sizeof(buf)), other[r]);
	putchar('\n');
	printf("  %-17s", "all");
	for (r = 0; r < NRES; r++)
		if (row[r] + other[r])
			printf(" %s=%lu", res_name(r, buf, sizeof(buf)), row[r] + other[r]);
	putchar('\n');
	printf("  extack messages seen:\n");
	for (i = 0; i < 24 && st->ext[i][0]; i++)
		printf("    %6lu  %s\n", st->ext_n[i], st->ext[i]);
}

/* Errnos the module and the netlink core may answer; anything else fails. */
static bool allowed(int r, bool root)
{
	switch (r) {
	case 0: case R_DUMP: case R_NOREPLY:
	case EINVAL: case ERANGE: case EOPNOTSUPP: case EBADF: case ENOTSOCK:
	case EPROTONOSUPPORT: case EXDEV: case ENOENT: case EEXIST:
	case EMSGSIZE: case E2BIG:
		return true;
	case EPERM:
		return !root;
	default:
		return false;
	}
}

/*
 * The events group, joined in the fuzzed namespace: every event the module
 * multicasts while it is fuzzed must be a well-formed message of the family
 * (attributes fill it exactly, a known event command, INE_A_SESSION
 * present). Overruns (ENOBUFS) are counted, not failed: events are lossy.
 */
struct events {
	int fd;
	uint16_t family;
	unsigned long n[NCMD], bad, overruns;
};

static struct events EV = { .fd = -1 };

static void events_open(uint16_t family)
{
	struct nl_sock *sk = nl_socket_alloc();
	int grp, rcv = 4 << 20;

	MUST(sk, "nl_socket_alloc");
	MUST(genl_connect(sk) == 0, "genl_connect");
	grp = genl_ctrl_resolve_grp(sk, INE_GENL_NAME, INE_MCGRP_EVENTS);
	nl_socket_free(sk);
	MUST(grp >= 0, "multicast group %s not found", INE_MCGRP_EVENTS);
	EV.family = family;
	EV.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_GENERIC);
	MUST(EV.fd >= 0, "netlink socket");
	setsockopt(EV.fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* bound (port id chosen by the kernel): broadcasts skip port id 0 */
	MUST(bind(EV.fd, (struct sockaddr *)&(struct sockaddr_nl){ .nl_family = AF_NETLINK },
		  sizeof(struct sockaddr_nl)) == 0, "bind the events socket");
	MUST(setsockopt(EV.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) == 0,
	     "join the events group");
}

static bool attrs_fill(const struct nlattr *a, int rem, bool *session)
{
	while (rem >= NLA_HDRLEN) {
		if (a->nla_len < NLA_HDRLEN || a->nla_len > rem)
			return false;
		if ((a->nla_type & NLA_TYPE_MASK) == INE_A_SESSION)
			*session = true;
		rem -= NLA_ALIGN(a->nla_len);
		a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
	return rem == 0;
}

static void events_drain(void)
{
	static unsigned char rbuf[65536];
	struct nlmsghdr *nh;
	struct genlmsghdr *gh;
	bool session;
	ssize_t r;
	size_t len;

	if (EV.fd < 0)
		return;
	for (;;) {
		r = recv(EV.fd, rbuf, sizeof(rbuf), 0);
		if (r < 0 && errno == ENOBUFS) {
			EV.overruns++;
			continue;
		}
		if (r <= 0)
			return;
		len = (size_t)r;
		for (nh = (struct nlmsghdr *)rbuf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			gh = NLMSG_DATA(nh);
			session = false;
			if (nh->nlmsg_type != EV.family ||
			    nh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN ||
			    gh->cmd < INE_CMD_EVENT_SESSION_UP || gh->cmd > INE_CMD_MAX ||
			    !attrs_fill((const struct nlattr *)((char *)gh + GENL_HDRLEN),
					(int)(nh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN),
					&session) || !session) {
				if (EV.bad++ < 5)
					fprintf(stderr, "nl_fuzz: malformed event: type %u len %u cmd %u\n",
						nh->nlmsg_type, nh->nlmsg_len,
						nh->nlmsg_len >= NLMSG_HDRLEN + GENL_HDRLEN ? gh->cmd : 0);
				continue;
			}
			EV.n[gh->cmd]++;
		}
	}
}

static int fuzz_run(int nl, uint16_t family, unsigned long n, bool root,
		    bool closer, struct stats *st)
{
	static struct msg m;
	struct built b;
	uint32_t seq = 1;
	unsigned long i;
	int res, payload, bad = 0;
	char buf[32];

	for (i = 0; i < n; i++, seq += 2) {
		build(&m, family, seq, &b);
		res = exchange(nl, &m, seq, st, &payload);
		st->res[b.cmd][res]++;
		if (root)
			events_drain();
		if (!allowed(res, root)) {
			if (bad++ < 10)
				fprintf(stderr, "nl_fuzz: %s message %lu (cmd %d%s): unexpected %s\n",
					root ? "root" : "unprivileged", i, b.cmd,
					b.dump ? ", dump" : "", res_name(res, buf, sizeof(buf)));
		}
		if (b.hdr_ok && res == R_NOREPLY) {
			if (bad++ < 10)
				fprintf(stderr, "nl_fuzz: message %lu (cmd %d) got no answer\n",
					i, b.cmd);
		}
		/*
		 * Unprivileged, a mutating command must never succeed. With a
		 * clean generic netlink header it must get exactly EPERM (the
		 * permission check comes before attribute parsing); a reserved
		 * field or stray flags may be refused by the genl core first.
		 */
		if (!root && b.hdr_ok && is_mutating(b.cmd) &&
		    (b.hdr_clean ? res != EPERM :
		     !(res == EPERM || res == EINVAL || res == EOPNOTSUPP))) {
			st->unpriv_bad++;
			if (bad++ < 10)
				fprintf(stderr, "nl_fuzz: unprivileged %s message %lu%s got %s, want EPERM\n",
					cmd_name(b.cmd), i, b.hdr_clean ? "" : " (odd header)",
					res_name(res, buf, sizeof(buf)));
		}
		if (!root && is_mutating(b.cmd) && res == 0 && b.hdr_ok) {
			st->unpriv_bad++;	/* a mutation went through */
			if (bad++ < 10)
				fprintf(stderr, "nl_fuzz: unprivileged %s succeeded\n",
					cmd_name(b.cmd));
		} else if (!root && b.hdr_ok && b.hdr_clean && is_mutating(b.cmd))
			st->unpriv_clean++;
		if (root && !closer && (i + 1) % 400 == 0)
			pool_recycle();
	}
	return bad;
}

/* Valid GET_TOTALS: live sessions and added/removed; 0 if it answered. */
static int totals(int nl, uint16_t family, uint32_t *sessions, uint64_t *added,
		  uint64_t *removed, char *version, size_t vlen)
{
	static unsigned char rbuf[16384];
	struct { struct nlmsghdr nh; struct genlmsghdr gh; } req = {
		{ .nlmsg_len = sizeof(req), .nlmsg_type = family,
		  .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 0x7fff0000 },
		{ .cmd = INE_CMD_GET_TOTALS, .version = INE_GENL_VERSION } };
	struct nlmsghdr *nh;
	struct nlattr *a, *t;
	int rem, trem;
	ssize_t r;

	*sessions = UINT32_MAX;
	*added = *removed = UINT64_MAX;
	raw_send(nl, &req, sizeof(req));
	r = recv(nl, rbuf, sizeof(rbuf), 0);
	if (r <= 0)
		return -1;
	nh = (struct nlmsghdr *)rbuf;
	if (!NLMSG_OK(nh, (size_t)r) || nh->nlmsg_type != family)
		return -1;
	a = (struct nlattr *)((char *)NLMSG_DATA(nh) + GENL_HDRLEN);
	rem = (int)nh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	for (; rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= rem;
	     rem -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if (a->nla_type == INE_A_VERSION)
			snprintf(version, vlen, "%s", (char *)a + NLA_HDRLEN);
		if ((a->nla_type & NLA_TYPE_MASK) != INE_A_TOTALS)
			continue;
		t = (struct nlattr *)((char *)a + NLA_HDRLEN);
		trem = a->nla_len - NLA_HDRLEN;
		for (; trem >= NLA_HDRLEN && t->nla_len >= NLA_HDRLEN && t->nla_len <= trem;
		     trem -= NLA_ALIGN(t->nla_len),
		     t = (struct nlattr *)((char *)t + NLA_ALIGN(t->nla_len))) {
			void *d = (char *)t + NLA_HDRLEN;

			if (t->nla_type == INE_TOTALS_A_SESSIONS)
				memcpy(sessions, d, 4);
			else if (t->nla_type == INE_TOTALS_A_ADDED)
				memcpy(added, d, 8);
			else if (t->nla_type == INE_TOTALS_A_REMOVED)
				memcpy(removed, d, 8);
		}
	}
	return 0;
}

static int unpriv_child(uint16_t family, unsigned long n, uint64_t seed)
{
	static struct stats st;
	uid_t nobody = 65534;
	int nl, bad;

	MUST(setgroups(0, NULL) == 0, "setgroups");
	MUST(setgid(nobody) == 0 && setuid(nobody) == 0, "drop to uid/gid %u", nobody);
	MUST(setuid(0) < 0, "could regain root after dropping it");
	rng_state = seed ^ 0x5eed0fu;
	nl = raw_open();
	bad = fuzz_run(nl, family, n, false, false, &st);
	print_table("unprivileged (uid 65534)", &st);
	{
		unsigned long eperm = 0;
		int c;

		for (c = 0; c < NCMD; c++)
			if (is_mutating(c))
				eperm += st.res[c][EPERM];
		printf("unprivileged: %lu mutating messages got EPERM (%lu with a clean header, all of which must), %lu wrong answers\n",
		       eperm, st.unpriv_clean, st.unpriv_bad);
		if (!eperm || !st.unpriv_clean) {
			fprintf(stderr, "nl_fuzz: no mutating message was sent unprivileged\n");
			bad++;
		}
		if (!st.res[INE_CMD_GET_TOTALS][0]) {
			fprintf(stderr, "nl_fuzz: unprivileged GET_TOTALS never succeeded (queries are open to all)\n");
			bad++;
		}
	}
	close(nl);
	fflush(stdout);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct stats st;
	unsigned long n = 50000, un = 10000;
	uint64_t seed = 0, added, removed;
	bool have_seed = false, closer = false;
	pthread_t closer_tid;
	uint16_t family;
	uint32_t sessions;
	char version[32] = "";
	int c, nl, bad = 0, status;
	pid_t pid;

	while ((c = getopt(argc, argv, "n:u:s:c")) != -1) {
		switch (c) {
		case 'n': n = strtoul(optarg, NULL, 0); break;
		case 'u': un = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); have_seed = true; break;
		case 'c': closer = true; break;
		default:
			fprintf(stderr, "usage: nl_fuzz [-n MESSAGES] [-u UNPRIV_MESSAGES] [-s SEED] [-c]\n");
			return 2;
		}
	}
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
	}
	printf("nl_fuzz: seed %llu (replay: nl_fuzz%s -n %lu -u %lu -s %llu)\n",
	       (unsigned long long)seed, closer ? " -c" : "", n, un,
	       (unsigned long long)seed);
	fflush(stdout);
	rng_state = seed;
	MUST(geteuid() == 0, "nl_fuzz runs as root (it drops to 65534 itself)");
	signal(SIGPIPE, SIG_IGN);

	/* the family is resolved before unshare: both namespaces see it */
	family = family_id();
	pool_open(-1);
	nl = raw_open();
	P.nl = nl;
	if (totals(nl, family, &sessions, &added, &removed, version, sizeof(version)) ||
	    sessions != 0) {
		fprintf(stderr, "nl_fuzz: fresh namespace: GET_TOTALS failed or sessions %u != 0\n",
			sessions);
		return 1;
	}

	events_open(family);
	if (closer)
		MUST(pthread_create(&closer_tid, NULL, closer_main,
				    (void *)(uintptr_t)(seed | 1)) == 0, "pthread_create");
	bad += fuzz_run(nl, family, n, true, closer, &st);
	if (closer) {
		closer_stop = 1;
		pthread_join(closer_tid, NULL);
	}
	print_table("root", &st);
	usleep(200000);
	events_drain();
	printf("root: events seen: up %lu, state %lu, down %lu, guard-drop %lu, key-usage %lu; %lu malformed, %lu overruns\n",
	       EV.n[INE_CMD_EVENT_SESSION_UP], EV.n[INE_CMD_EVENT_SESSION_STATE],
	       EV.n[INE_CMD_EVENT_SESSION_DOWN], EV.n[INE_CMD_EVENT_GUARD_DROP],
	       EV.n[INE_CMD_EVENT_KEY_USAGE], EV.bad, EV.overruns);
	if (EV.bad) {
		fprintf(stderr, "nl_fuzz: %lu malformed events\n", EV.bad);
		bad++;
	}
	if (n >= 1000 && (!EV.n[INE_CMD_EVENT_SESSION_UP] || !EV.n[INE_CMD_EVENT_SESSION_DOWN])) {
		fprintf(stderr, "nl_fuzz: no session up/down event while sessions came and went\n");
		bad++;
	}
	/* the deep paths must have run, or the fuzzer tests nothing */
	if (!st.res[INE_CMD_SESSION_ADD][0] || !st.res[INE_CMD_SESSION_SET][0] ||
	    !st.res[INE_CMD_SESSION_DEL][0] || !st.res[INE_CMD_SESSION_GET][0] ||
	    !st.res[INE_CMD_SESSION_GET][R_DUMP] || !st.res[INE_CMD_SET_CONFIG][0]) {
		fprintf(stderr, "nl_fuzz: some command never succeeded as root: the valid messages do not reach the module's deep paths\n");
		bad++;
	}
	printf("root: %lu TCP pairs recycled under registered sessions%s\n", P.recycled,
	       closer ? " (closer thread)" : "");
	fflush(stdout);

	if (un) {
		pid = fork();
		MUST(pid >= 0, "fork");
		if (pid == 0)
			_exit(unpriv_child(family, un, seed));
		MUST(waitpid(pid, &status, 0) == pid, "waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "nl_fuzz: unprivileged run failed (status %#x)\n", status);
			bad++;
		}
	}

	/* no leaked references: every session goes with its socket */
	pool_close();
	for (c = 0; c < 50; c++) {
		if (totals(nl, family, &sessions, &added, &removed, version,
			   sizeof(version))) {
			fprintf(stderr, "nl_fuzz: the module does not answer GET_TOTALS after the run\n");
			return 1;
		}
		if (sessions == 0 && added == removed)
			break;
		usleep(100000);
	}
	printf("after: module %s answers; live sessions %u, added %llu, removed %llu\n",
	       version, sessions, (unsigned long long)added, (unsigned long long)removed);
	if (sessions != 0 || added != removed) {
		fprintf(stderr, "nl_fuzz: sessions left after every socket closed: %u live, %llu added, %llu removed\n",
			sessions, (unsigned long long)added, (unsigned long long)removed);
		bad++;
	}
	/* one UP per registration and one DOWN per removal, unless the
	 * event socket overran */
	usleep(200000);
	events_drain();
	printf("after: events up %lu, down %lu, overruns %lu\n",
	       EV.n[INE_CMD_EVENT_SESSION_UP], EV.n[INE_CMD_EVENT_SESSION_DOWN],
	       EV.overruns);
	if (!EV.overruns && (EV.n[INE_CMD_EVENT_SESSION_UP] != added ||
			     EV.n[INE_CMD_EVENT_SESSION_DOWN] != removed)) {
		fprintf(stderr, "nl_fuzz: events up %lu / down %lu, registrations %llu / removals %llu\n",
			EV.n[INE_CMD_EVENT_SESSION_UP], EV.n[INE_CMD_EVENT_SESSION_DOWN],
			(unsigned long long)added, (unsigned long long)removed);
		bad++;
	}
	if (EV.bad) {
		fprintf(stderr, "nl_fuzz: %lu malformed events\n", EV.bad);
		bad++;
	}
	if (!version[0]) {
		fprintf(stderr, "nl_fuzz: GET_TOTALS carried no version\n");
		bad++;
	}
	close(nl);
	printf("nl_fuzz: %s (seed %llu)\n", bad ? "FAILED" : "passed", (unsigned long long)seed);
	return bad ? 1 : 0;
}
