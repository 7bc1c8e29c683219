/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h - what every benchmark program in tools/bench shares: CPU time
 * from the kernel's own accounting, sockets, a baseline TLS context and
 * one-line JSON results.
 *
 * CPU is never wall time.  Two views, both from the kernel:
 *  - the whole machine: /proc/stat's first line, user+nice+system+irq+
 *    softirq (what the VM spent, every process and softirq included; only
 *    trustworthy where nothing else runs, i.e. in the VM);
 *  - per process: utime+stime of /proc/<pid>/stat (all threads) and
 *    getrusage(RUSAGE_SELF) (what the host, shared with other work, can
 *    still measure honestly).
 * Results are printed as one line "BENCH {json}" on stdout, which the
 * suites collect (tools/bench/report).
 */
#ifndef INE_BENCH_H
#define INE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <openssl/ssl.h>

#define BENCH_GIB (1024.0 * 1024.0 * 1024.0)

/* Busy CPU seconds of the whole machine (all CPUs) since boot. */
double bench_cpu_machine(void);
/* utime+stime of a process (all threads), seconds; negative errno on error. */
double bench_cpu_pid(pid_t pid);
/* user+system of this process (all threads), seconds. */
double bench_cpu_self(void);
/* Sum of bench_cpu_pid() over a comma-separated pid list ("" = 0). */
double bench_cpu_pids(const char *list);
/* Monotonic seconds. */
double bench_now(void);

/* "host:port" -> listening / connected TCP socket; negative errno. */
int bench_listen(const char *hostport);
int bench_connect(const char *hostport);
/* Read/write exactly n bytes on a plain fd; 0 or negative errno. */
int bench_read_full(int fd, void *buf, size_t n);
int bench_write_full(int fd, const void *buf, size_t n);

/*
 * A baseline TLS context (not ine's: the benchmark's own endpoints).
 * version "1.2" or "1.3"; cipher an OpenSSL 1.2 cipher name or a 1.3
 * ciphersuite name; mutual authentication against ca; no tickets;
 * SSL_OP_ENABLE_KTLS when ktls is true.
 */
SSL_CTX *bench_tls_ctx(bool server, const char *version, const char *cipher,
		       const char *cert, const char *key, const char *ca, bool ktls);
/* OpenSSL's error queue as one line (static buffer). */
const char *bench_tls_err(void);

/* Print "BENCH <compact json>\n" on stdout and free obj. */
void bench_emit(json_t *obj);

/* Parse "256M", "1G", "4096" into bytes; 0 on error. */
uint64_t bench_parse_size(const char *s);

#endif
