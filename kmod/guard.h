/* SPDX-License-Identifier: GPL-2.0 */
/* The plaintext guard: a netfilter hook that counts or drops payload on
 * the guarded ports unless its socket is a session with kernel TLS TX. */
#ifndef INE_GUARD_H
#define INE_GUARD_H

#include <linux/percpu.h>
#include <linux/seqlock.h>
#include <linux/workqueue.h>
#include <linux/ine.h>
#include "session.h"

struct ine_guard_ports {
	struct rcu_head rcu;
	unsigned int n;
	u16 port[INE_GUARD_MAX_PORTS];
};

/*
 * What the hook writes, one per CPU, so that segments on different CPUs
 * never write a shared cache line: the counters (summed on read) and the
 * CPU's last offender. seq guards last and stamp against a reader on
 * another CPU; its writer runs with BHs off, so a softirq on the same CPU
 * cannot interleave.
 */
struct ine_guard_pcpu {
	u64 passed, unregistered, dropped, dropped_bytes;
	seqcount_t seq;
	u64 stamp;			/* local_clock() of last, 0: none */
	struct ine_tuple last;
};

struct ine_guard {
	u8 mode;			/* READ_ONCE() in the hook */
	u32 handshake_ms;		/* window before TLS TX is required */
	bool hooked;
	struct ine_guard_ports __rcu *ports;
	struct ine_guard_pcpu __percpu *pcpu;
	/* bit 0: event work queued. Read before it is set, so a flood of
	 * offenders only reads it while an event is pending. */
	unsigned long event_pending;
	unsigned long last_event;	/* jiffies */
	struct delayed_work event_work;
};

struct ine_guard_counts {
	u64 passed, unregistered, dropped, dropped_bytes;
};

struct ine_net;

void ine_guard_read_counts(struct ine_guard *g, struct ine_guard_counts *c);

/* The `guard` module parameter as an enum ine_guard_mode, -EINVAL if bad. */
int ine_guard_param_mode(void);
const char *ine_guard_param_name(void);
/* After ine_registry_init (takes in->lock to apply the parameter). */
int ine_guard_init(struct ine_net *in);
void ine_guard_exit(struct ine_net *in);
/* Under in->lock. mode < 0 or n == 0 leave that part alone. */
int ine_guard_set(struct ine_net *in, int mode, const u16 *ports,
		  unsigned int n);

#endif
