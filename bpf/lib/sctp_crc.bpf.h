/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SCTP's CRC32c after a port change, without reading the packet: the CRC is linear, so
 * flipping bits D at the start of an n-byte message flips the CRC by crc0(D) shifted by
 * the n - 4 bytes after it (crc0: no initial value, no final xor), and a shift by k zero
 * bytes is a multiplication by x^(8k) mod P (zlib's crc32_combine). About 600 bounded
 * steps, whatever the packet's size, instead of a loop over every byte.
 */
#ifndef BPFPROXY_SCTP_CRC_BPF_H
#define BPFPROXY_SCTP_CRC_BPF_H

#include <linux/types.h>

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "the SCTP CRC patch reads the little-endian CRC field as a number"
#endif

#define BPX_CRC32C_POLY 0x82f63b78 /* reflected Castagnoli polynomial */

/* x^(2^k) mod P for k = 0..31, reflected (bit 31 is x^0). */
static const __u32 bpx_crc32c_x2n[32] = {
	0x40000000, 0x20000000, 0x08000000, 0x00800000,
	0x00008000, 0x82f63b78, 0x6ea2d55c, 0x18b8ea18,
	0x510ac59a, 0xb82be955, 0xb8fdb1e7, 0x88e56f72,
	0x74c360a4, 0xe4172b16, 0x0d65762a, 0x35d73a62,
	0x28461564, 0xbf455269, 0xe2ea32dc, 0xfe7740e6,
	0xf946610b, 0x3c204f8f, 0x538586e3, 0x59726915,
	0x734d5309, 0xbc1ac763, 0x7d0722cc, 0xd289cabe,
	0xe94ca9bc, 0x05b74f3f, 0xa51e1f42, 0x40000000,
};

/* a * b mod P, both reflected. Branch-free (masks instead of ifs), so the verifier walks
 * one path, not two per bit. */
static __always_inline __u32 bpx_crc32c_mult(__u32 a, __u32 b)
{
	__u32 p = 0;
	int i;

	for (i = 0; i < 32; i++) {
		p ^= b & -((a >> (31 - i)) & 1);
		b = (b >> 1) ^ (BPX_CRC32C_POLY & -(b & 1));
	}
	return p;
}

/* x^(8 * bytes) mod P: the effect of `bytes` zero bytes (bytes < 65536). */
static __always_inline __u32 bpx_crc32c_shift(__u32 bytes)
{
	__u32 p = 1U << 31; /* x^0 */
	__u32 mask;
	int k;

	for (k = 0; k < 16; k++) {
		mask = -((bytes >> k) & 1);
		p = (bpx_crc32c_mult(bpx_crc32c_x2n[k + 3], p) & mask) | (p & ~mask);
	}
	return p;
}

/*
 * What to xor into the CRC (as a number; SCTP stores it little-endian) when the first four
 * bytes of a `len`-byte SCTP packet (its ports) are xored with d0..d3 (`flip` = d0 | d1 <<
 * 8 | d2 << 16 | d3 << 24). A global function: verified once, not at every call site.
 */
__attribute__((noinline)) __u32 bpx_sctp_crc_delta(__u32 flip, __u32 len)
{
	__u32 crc = 0;
	int i;

	if (len < 4 || len > 0xffff)
		return 0;
	/* crc0 of the four flipped bytes, in packet order. */
	crc = flip;
	for (i = 0; i < 32; i++)
		crc = (crc >> 1) ^ (BPX_CRC32C_POLY & -(crc & 1));
	return bpx_crc32c_mult(bpx_crc32c_shift(len - 4), crc);
}

#endif
