/* SHA-256 (FIPS 180-4), for content addresses and digest checks of images.
 *
 * Why not a library: the libraries at hand pick their CPU code at start-up
 * in a constructor (nettle's "fat" build: a dozen CPUID instructions, each
 * a hypervisor exit on a VM), and every process of the multi-call binary
 * pays it, sefaca-run included (+37 us measured per start).  This one is
 * plain C, runs only when an image is imported, and is checked against the
 * NIST vectors (tests/unit/test_oci.c) and, end to end, against the digests
 * skopeo and umoci write (tests/applets/container.test). */
#ifndef SFC_SHA256_H
#define SFC_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sfc_sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};

void sfc_sha256_init(struct sfc_sha256 *c);
void sfc_sha256_update(struct sfc_sha256 *c, const void *data, size_t len);
/* 64 lower-case hex digits and a NUL */
void sfc_sha256_final_hex(struct sfc_sha256 *c, char hex[65]);

#endif
