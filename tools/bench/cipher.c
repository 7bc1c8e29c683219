// SPDX-License-Identifier: GPL-2.0
/*
 * cipher - the cost of AES-GCM alone, the denominator of the overhead
 * figure: encrypt and then decrypt (with tag check) N bytes as 16 KiB
 * records with a 13-byte AAD, like TLS 1.2 records, and report CPU
 * seconds per GiB.
 *
 *   cipher --impl afalg|evp --key 128|256 --bytes N [--record BYTES] [--label L]
 *
 * afalg: the kernel's "gcm(aes)" through AF_ALG (the implementation
 *        kernel TLS uses; needs algif_aead).  The payload is copied into
 *        and out of the kernel per record, which a real kTLS path also
 *        pays in some form; the figure is therefore an upper bound of the
 *        arithmetic alone.
 * evp:   OpenSSL's EVP_aes_{128,256}_gcm (what userspace TLS uses).
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <linux/if_alg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define AAD_LEN 13
#define TAG_LEN 16
#define IV_LEN 12

#ifndef SOL_ALG
#define SOL_ALG 279
#endif

static int afalg_op(int opfd, int op, const unsigned char *iv, const void *in, size_t inlen,
		    void *out, size_t outlen)
{
	char cbuf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct af_alg_iv) + IV_LEN) +
		  CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)in, .iov_len = inlen };
	struct msghdr msg = { .msg_control = cbuf, .msg_controllen = sizeof(cbuf),
			      .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	struct af_alg_iv *aiv;
	ssize_t n;

	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_OP;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &op, sizeof(int));
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_IV;
	c->cmsg_len = CMSG_LEN(sizeof(struct af_alg_iv) + IV_LEN);
	aiv = (struct af_alg_iv *)CMSG_DATA(c);
	aiv->ivlen = IV_LEN;
	memcpy(aiv->iv, iv, IV_LEN);
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	{
		int alen = AAD_LEN;

		memcpy(CMSG_DATA(c), &alen, sizeof(int));
	}
	if (sendmsg(opfd, &msg, 0) != (ssize_t)inlen)
		return -errno;
	n = read(opfd, out, outlen);
	if (n < 0)
		return -errno;
	return n == (ssize_t)outlen ? 0 : -EIO;
}

static int run_afalg(int bits, uint64_t bytes, size_t rec)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG, .salg_type = "aead",
				   .salg_name = "gcm(aes)" };
	unsigned char key[32], iv[IV_LEN] = { 0 };
	unsigned char *pt = malloc(AAD_LEN + rec), *ct = malloc(AAD_LEN + rec + TAG_LEN);
	unsigned char *back = malloc(AAD_LEN + rec);
	int tfm, opfd, r = -ENOMEM;
	uint64_t done = 0, seq = 0;

	if (!pt || !ct || !back)
		goto out;
	RAND_bytes(key, sizeof(key));
	RAND_bytes(pt, (int)(AAD_LEN + rec));
	tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (tfm < 0) {
		r = -errno;
		fprintf(stderr, "cipher: AF_ALG socket: %s (modprobe algif_aead?)\n", strerror(errno));
		goto out;
	}
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, bits / 8) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL, TAG_LEN)) {
		r = -errno;
		fprintf(stderr, "cipher: AF_ALG gcm(aes) setup: %s (modprobe algif_aead?)\n",
			strerror(errno));
		goto close_tfm;
	}
	opfd = accept4(tfm, NULL, NULL, SOCK_CLOEXEC);
	if (opfd < 0) {
		r = -errno;
		goto close_tfm;
	}
	while (done < bytes) {
		seq++;
		memcpy(iv + 4, &seq, sizeof(seq));
		/* encrypt: in = AAD || pt, out = AAD || ct || tag */
		r = afalg_op(opfd, ALG_OP_ENCRYPT, iv, pt, AAD_LEN + rec, ct, AAD_LEN + rec + TAG_LEN);
		if (r)
			break;
		/* decrypt: in = AAD || ct || tag, out = AAD || pt (tag checked) */
		r = afalg_op(opfd, ALG_OP_DECRYPT, iv, ct, AAD_LEN + rec + TAG_LEN, back, AAD_LEN + rec);
		if (r)
			break;
		done += rec;
	}
	if (!r && memcmp(back + AAD_LEN, pt + AAD_LEN, rec)) {
		fprintf(stderr, "cipher: AF_ALG round trip mismatch\n");
		r = -EIO;
	}
	if (r)
		fprintf(stderr, "cipher: AF_ALG operation: %s\n", strerror(-r));
	close(opfd);
close_tfm:
	close(tfm);
	OPENSSL_cleanse(key, sizeof(key));
out:
	free(pt);
	free(ct);
	free(back);
	return r;
}

static int run_evp(int bits, uint64_t bytes, size_t rec)
{
	const EVP_CIPHER *c = bits == 128 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	EVP_CIPHER_CTX *enc = EVP_CIPHER_CTX_new(), *dec = EVP_CIPHER_CTX_new();
	unsigned char key[32], iv[IV_LEN] = { 0 }, aad[AAD_LEN] = { 0 }, tag[TAG_LEN];
	unsigned char *pt = malloc(rec), *ct = malloc(rec), *back = malloc(rec);
	uint64_t done = 0, seq = 0;
	int r = -ENOMEM, n;

	if (!enc || !dec || !pt || !ct || !back)
		goto out;
	RAND_bytes(key, sizeof(key));
	RAND_bytes(pt, (int)rec);
	r = -EIO;
	if (!EVP_EncryptInit_ex(enc, c, NULL, key, NULL) ||
	    !EVP_DecryptInit_ex(dec, c, NULL, key, NULL))
		goto out;
	while (done < bytes) {
		seq++;
		memcpy(iv + 4, &seq, sizeof(seq));
		if (!EVP_EncryptInit_ex(enc, NULL, NULL, NULL, iv) ||
		    !EVP_EncryptUpdate(enc, NULL, &n, aad, AAD_LEN) ||
		    !EVP_EncryptUpdate(enc, ct, &n, pt, (int)rec) ||
		    !EVP_EncryptFinal_ex(enc, ct + n, &n) ||
		    !EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag))
			goto out;
		if (!EVP_DecryptInit_ex(dec, NULL, NULL, NULL, iv) ||
		    !EVP_DecryptUpdate(dec, NULL, &n, aad, AAD_LEN) ||
		    !EVP_DecryptUpdate(dec, back, &n, ct, (int)rec) ||
		    !EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) ||
		    EVP_DecryptFinal_ex(dec, back + n, &n) <= 0)
			goto out;
		done += rec;
	}
	r = memcmp(back, pt, rec) ? -EIO : 0;
out:
	if (r)
		fprintf(stderr, "cipher: EVP AES-%d-GCM failed\n", bits);
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(enc);
	EVP_CIPHER_CTX_free(dec);
	free(pt);
	free(ct);
	free(back);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "impl", 1, NULL, 'i' }, { "key", 1, NULL, 'k' },
		{ "bytes", 1, NULL, 'b' }, { "record", 1, NULL, 'r' },
		{ "label", 1, NULL, 'L' }, { NULL, 0, NULL, 0 },
	};
	const char *impl = NULL, *label = "";
	uint64_t bytes = 0;
	size_t rec = 16384;
	int bits = 0, ch, r;
	double m0, s0, t0, m1, s1, t1, gib;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': impl = optarg; break;
		case 'k': bits = atoi(optarg); break;
		case 'b': bytes = bench_parse_size(optarg); break;
		case 'r': rec = (size_t)bench_parse_size(optarg); break;
		case 'L': label = optarg; break;
		default: goto usage;
		}
	}
	if (!impl || (bits != 128 && bits != 256) || !bytes || !rec || rec > (1 << 20) ||
	    (strcmp(impl, "afalg") && strcmp(impl, "evp")))
		goto usage;
	m0 = bench_cpu_machine();
	s0 = bench_cpu_self();
	t0 = bench_now();
	r = strcmp(impl, "evp") ? run_afalg(bits, bytes, rec) : run_evp(bits, bytes, rec);
	t1 = bench_now();
	s1 = bench_cpu_self();
	m1 = bench_cpu_machine();
	if (r)
		return 1;
	gib = bytes / BENCH_GIB;
	bench_emit(json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:f, s:f, s:f, s:f, s:f}",
			     "kind", "cipher", "label", label, "impl", impl, "key_bits", bits,
			     "bytes", (json_int_t)bytes, "record", (json_int_t)rec,
			     "wall_s", t1 - t0, "cpu_machine_s", m1 - m0, "cpu_proc_s", s1 - s0,
			     "cpu_machine_s_per_gib", (m1 - m0) / gib,
			     "cpu_proc_s_per_gib", (s1 - s0) / gib));
	return 0;
usage:
	fprintf(stderr, "usage: cipher --impl afalg|evp --key 128|256 --bytes N "
		"[--record BYTES] [--label L]\n");
	return 2;
}
