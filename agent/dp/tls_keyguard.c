// SPDX-License-Identifier: GPL-2.0
/* tls_keyguard.c — see tls_keyguard.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "dp/tls_keyguard.h"
#include "tls/ktls.h"
#include "tls/tls.h"

#define KG_SOL_TLS	282	/* include/linux/socket.h */
#define KG_TLS_TX	1	/* include/uapi/linux/tls.h */
#define KG_TLS_RX	2
/* Bytes wiped: every crypto_info of Linux 6.1 is at most 56 bytes, and
 * the kernel copies back no more than what it returned (optlen). */
#define KG_WIPE		64
#define KG_MAX_INSNS	(16 + 4 * KG_WIPE)

static int prog_fd = -1, link_fd = -1;

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static struct bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm)
{
	return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src,
				  .off = off, .imm = imm };
}

/*
 * r6 = ctx; if level != SOL_TLS or optname not TLS_TX/TLS_RX: return 1.
 * Else r7 = optval, r8 = optval_end; for k < KG_WIPE: if r7 + k + 1 > r8
 * stop, else *(u8 *)(r7 + k) = 0. Return 1: the kernel copies the zeroed
 * buffer over the caller's. Jumps to "out" are patched once its index is
 * known (a jump's offset counts from the next instruction).
 */
static size_t build(struct bpf_insn *p)
{
	size_t n = 0, fix[KG_MAX_INSNS], nfix = 0, i;

	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0);
	p[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_6,
		      offsetof(struct bpf_sockopt, level), 0);
	fix[nfix++] = n;
	p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, KG_SOL_TLS);
	p[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_6,
		      offsetof(struct bpf_sockopt, optname), 0);
	p[n++] = insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_2, 0, 1, KG_TLS_TX);
	fix[nfix++] = n;
	p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, KG_TLS_RX);
	p[n++] = insn(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_7, BPF_REG_6,
		      offsetof(struct bpf_sockopt, optval), 0);
	p[n++] = insn(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_8, BPF_REG_6,
		      offsetof(struct bpf_sockopt, optval_end), 0);
	for (i = 0; i < KG_WIPE; i++) {
		p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_7, 0, 0);
		p[n++] = insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, (__s32)i + 1);
		fix[nfix++] = n;
		p[n++] = insn(BPF_JMP | BPF_JGT | BPF_X, BPF_REG_2, BPF_REG_8, 0, 0);
		p[n++] = insn(BPF_ST | BPF_MEM | BPF_B, BPF_REG_7, 0, (__s16)i, 0);
	}
	/* out: */
	for (i = 0; i < nfix; i++)
		p[fix[i]].off = (__s16)(n - fix[i] - 1);
	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
	p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

/* The cgroup v2 mount (its root is the root of our cgroup namespace). */
static int cgroup2_path(char *buf, size_t len)
{
	char dev[64], dir[4096], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fscanf(f, "%63s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

int keyguard_start(const char *cgroup)
{
	static struct bpf_insn prog[KG_MAX_INSNS];
	static char vlog[8192];
	char path[4096];
	union bpf_attr a;
	int cg, rc, pfd, lfd;

	if (link_fd >= 0)
		return 0;
	if (cgroup)
		snprintf(path, sizeof(path), "%s", cgroup);
	else if ((rc = cgroup2_path(path, sizeof(path)))) {
		log_warn("keyguard: no cgroup v2 mounted: brokered connections stay "
			 "in software TLS (keys never leave ined)");
		return rc;
	}
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_SOCKOPT;
	a.expected_attach_type = BPF_CGROUP_GETSOCKOPT;
	a.insn_cnt = (__u32)build(prog);
	a.insns = (__u64)(unsigned long)prog;
	a.license = (__u64)(unsigned long)"GPL";
	snprintf(a.prog_name, sizeof(a.prog_name), "ine_keyguard");
	vlog[0] = 0;
	pfd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (pfd < 0 && errno == EACCES) {
		/* refused by the verifier: load again for its reason (the
		 * log's tail; ENOSPC only means it was cut) */
		a.log_buf = (__u64)(unsigned long)vlog;
		a.log_size = sizeof(vlog);
		a.log_level = 1;
		sys_bpf(BPF_PROG_LOAD, &a);
		errno = EACCES;
	}
	if (pfd < 0) {
		rc = -errno;
		/* a verifier log is ours, not outside input: still one line */
		for (char *s = vlog; *s; s++)
			if (*s == '\n')
				*s = ' ';
		log_warn("keyguard: cannot load the getsockopt program: %s%s%.300s",
			 strerror(-rc), vlog[0] ? ": " : "", vlog);
		goto err;
	}
	cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		rc = -errno;
		log_warn("keyguard: cannot open cgroup %s: %s", path, strerror(-rc));
		goto err_prog;
	}
	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (__u32)pfd;
	a.link_create.target_fd = (__u32)cg;
	a.link_create.attach_type = BPF_CGROUP_GETSOCKOPT;
	lfd = (int)sys_bpf(BPF_LINK_CREATE, &a);
	rc = lfd < 0 ? -errno : 0;
	close(cg);
	if (rc) {
		log_warn("keyguard: cannot link the getsockopt program to cgroup %s: %s",
			 path, strerror(-rc));
		goto err_prog;
	}
	prog_fd = pfd;
	link_fd = lfd;
	log_info("keyguard: SOL_TLS crypto state hidden from every process under cgroup %s",
		 path);
	return 0;

err_prog:
	close(pfd);
err:
	log_warn("keyguard: brokered connections will not get kernel TLS: they stay in "
		 "software TLS in ined so keys never reach an application");
	return rc;
}

void keyguard_stop(void)
{
	if (link_fd >= 0)
		close(link_fd);	/* a bpf_link detaches when its last fd closes */
	if (prog_fd >= 0)
		close(prog_fd);
	link_fd = prog_fd = -1;
}

bool keyguard_active(void)
{
	return link_fd >= 0;
}

int keyguard_ktls_install(struct tls_conn *tc)
{
	if (keyguard_active())
		return ktls_conn_install(tc);
	/* OpenSSL may have offloaded TX itself (SSL_OP_ENABLE_KTLS), which
	 * is fine: the app holds the socketpair, not this socket. */
	ktls_conn_wipe_secret(tc);
	tc->ktls_tx = tc->ktls_rx = false;
	snprintf(tc->reason, sizeof(tc->reason), "no key guard: software TLS in ined");
	return 0;
}
