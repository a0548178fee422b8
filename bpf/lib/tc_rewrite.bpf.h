/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rewriting a parsed packet's addresses and ports with their checksums, patched by the
 * change (RFC 1624), never recomputed: the IPv4 header checksum, the L4 checksum's
 * pseudo-header part for addresses and its data part for ports (CHECKSUM_PARTIAL packets
 * carry only the pseudo-header sum, so the two are updated apart), SCTP's CRC32c.
 */
#ifndef BPFPROXY_TC_REWRITE_BPF_H
#define BPFPROXY_TC_REWRITE_BPF_H

#include "tc_packet.bpf.h"

/* Offset of the L4 checksum from the L4 header, 0 when there is none to fix. */
static __always_inline __u32 bpx_l4_csum_off(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP: return offsetof(struct tcphdr, check);
	case IPPROTO_UDP: return offsetof(struct udphdr, check);
	case BPX_IPPROTO_ICMPV6: return offsetof(struct icmp6hdr, icmp6_cksum);
	}
	return 0; /* SCTP (CRC32c over the payload, no pseudo-header), ICMPv4 */
}

static __always_inline __u64 bpx_l4_csum_flags(__u8 proto)
{
	/* A UDP checksum of 0 means none over IPv4: keep it 0. */
	return proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

/*
 * Rewrites the source (which = 0) or destination (which = 1) address, fixing the IPv4
 * header checksum and the L4 checksum's pseudo-header part. `l4_proto` says which L4
 * checksum covers the address (pass 0 for none, as for ICMPv4).
 */
static __always_inline int bpx_rewrite_addr(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					    int which, const __be32 new_addr[4], __u8 l4_proto)
{
	__u32 csum_off = bpx_l4_csum_off(l4_proto);
	__u64 l4_flags = BPF_F_PSEUDO_HDR | bpx_l4_csum_flags(l4_proto);

	if (!pkt->v6) {
		__u32 off = pkt->l3_off + (which ? offsetof(struct iphdr, daddr)
						 : offsetof(struct iphdr, saddr));
		__be32 old = which ? pkt->tuple.dst32[3] : pkt->tuple.src32[3];
		__be32 new = new_addr[3];

		if (old == new)
			return 0;
		if (csum_off && !pkt->fragment &&
		    bpf_l4_csum_replace(skb, pkt->l4_off + csum_off, old, new, l4_flags | 4))
			return -1;
		if (bpf_l3_csum_replace(skb, pkt->l3_off + offsetof(struct iphdr, check), old, new, 4))
			return -1;
		return bpf_skb_store_bytes(skb, off, &new, 4, 0);
	} else {
		__u32 off = pkt->l3_off + (which ? offsetof(struct ipv6hdr, daddr)
						 : offsetof(struct ipv6hdr, saddr));
		__be32 old[4];
		__be32 new[4];
		__s64 diff;

		__builtin_memcpy(old, which ? pkt->tuple.dst32 : pkt->tuple.src32, 16);
		__builtin_memcpy(new, new_addr, 16);
		if (bpx_addr_equal(old, new))
			return 0;
		if (csum_off && !pkt->fragment) {
			diff = bpf_csum_diff(old, 16, new, 16, 0);
			if (diff < 0 ||
			    bpf_l4_csum_replace(skb, pkt->l4_off + csum_off, 0, diff, l4_flags))
				return -1;
		}
		return bpf_skb_store_bytes(skb, off, new, 16, 0);
	}
}

/*
 * SCTP: the port and the CRC32c, patched by its delta (sctp_crc.bpf.h). A zero CRC field
 * is one the sender left to checksum offload (CHECKSUM_PARTIAL: the SCTP stack zeroes it
 * and it is computed over the packet as it leaves), so it stays zero; a real CRC of 0 has
 * a chance of 2^-32. A fragmented datagram cannot be patched: the CRC covers all of it,
 * and its first fragment holds only part (it is dropped, counted TC_DROP_UNSUPPORTED).
 */
static __always_inline int bpx_sctp_rewrite_port(struct __sk_buff *skb, const struct bpx_pkt *pkt,
						 int which, __be16 old, __be16 new_port)
{
	/* The flipped bytes in packet order, the first in the low byte (BPF is little-endian
	 * here, so a __be16's first byte is its low byte). */
	__u32 flip = (__u32)(__u16)(old ^ new_port) << (which * 16);
	__u32 crc;

	if (pkt->first_fragment)
		return -1;
	if (bpf_skb_load_bytes(skb, pkt->l4_off + 8, &crc, 4))
		return -1;
	if (crc) {
		crc ^= bpx_sctp_crc_delta(flip, pkt->l4_len);
		if (bpf_skb_store_bytes(skb, pkt->l4_off + 8, &crc, 4, 0))
			return -1;
	}
	return bpf_skb_store_bytes(skb, pkt->l4_off + (which ? 2 : 0), &new_port, 2, 0);
}

/* Rewrites the source (which = 0) or destination (which = 1) port. */
static __always_inline int bpx_rewrite_port(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					    int which, __be16 new_port)
{
	__be16 old = which ? pkt->tuple.dport : pkt->tuple.sport;
	__u32 csum_off = bpx_l4_csum_off(pkt->tuple.proto);

	if (old == new_port || pkt->fragment)
		return 0; /* a later fragment has no L4 header: its first carried the ports */
	if (pkt->tuple.proto == IPPROTO_SCTP)
		return bpx_sctp_rewrite_port(skb, pkt, which, old, new_port);
	if (csum_off && bpf_l4_csum_replace(skb, pkt->l4_off + csum_off, old, new_port,
					    bpx_l4_csum_flags(pkt->tuple.proto) | 2))
		return -1;
	return bpf_skb_store_bytes(skb, pkt->l4_off + (which ? 2 : 0), &new_port, 2, 0);
}

/* Internet checksum arithmetic (RFC 1071/1624), for headers built or patched in place. */
static __always_inline __u16 bpx_csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The checksum field after replacing a 16-bit word `old` by `new` (RFC 1624 eq. 3). */
static __always_inline __u16 bpx_csum_replace2(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline __u16 bpx_csum_replace4(__u16 check, __be32 old, __be32 new)
{
	check = bpx_csum_replace2(check, (__u16)(old & 0xffff), (__u16)(new & 0xffff));
	return bpx_csum_replace2(check, (__u16)(old >> 16), (__u16)(new >> 16));
}

/* The change from `old` to `new` of two 32-bit words as a ones'-complement sum (RFC 1624):
 * the diff bpf_l3_csum_replace and bpf_l4_csum_replace take with size 0. */
static __always_inline __u32 bpx_csum_delta(__u32 old0, __u32 new0, __u32 old1, __u32 new1)
{
	__u64 sum = (__u64)(__u32)~old0 + new0 + (__u32)~old1 + new1;

	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return (__u32)sum;
}

/* Both ports as they lie in the L4 header, one word in memory order. */
static __always_inline __u32 bpx_ports_word(__be16 sport, __be16 dport)
{
	__be16 ports[2] = { sport, dport };
	__u32 word;

	__builtin_memcpy(&word, ports, 4);
	return word;
}

/* The ports of a TCP or UDP packet: one checksum update and one store for both. */
static __always_inline int bpx_rewrite_ports(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					     __be16 new_sport, __be16 new_dport)
{
	__u32 csum_off = bpx_l4_csum_off(pkt->tuple.proto);
	__u32 old = bpx_ports_word(pkt->tuple.sport, pkt->tuple.dport);
	__u32 new = bpx_ports_word(new_sport, new_dport);

	if (csum_off && bpf_l4_csum_replace(skb, pkt->l4_off + csum_off, 0, bpx_csum_delta(old, new, 0, 0),
					    bpx_l4_csum_flags(pkt->tuple.proto)))
		return -1;
	return bpf_skb_store_bytes(skb, pkt->l4_off, &new, 4, 0);
}

/* IPv4: both addresses with one update of each checksum and one store (they are adjacent). */
static __always_inline int bpx_rewrite_addrs4(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					      __be32 new_src, __be32 new_dst)
{
	__u32 csum_off = bpx_l4_csum_off(pkt->tuple.proto);
	__u32 delta = bpx_csum_delta(pkt->tuple.src32[3], new_src, pkt->tuple.dst32[3], new_dst);
	__be32 addrs[2] = { new_src, new_dst };

	if (csum_off && !pkt->fragment &&
	    bpf_l4_csum_replace(skb, pkt->l4_off + csum_off, 0, delta,
				BPF_F_PSEUDO_HDR | bpx_l4_csum_flags(pkt->tuple.proto)))
		return -1;
	if (bpf_l3_csum_replace(skb, pkt->l3_off + offsetof(struct iphdr, check), 0, delta, 0))
		return -1;
	return bpf_skb_store_bytes(skb, pkt->l3_off + offsetof(struct iphdr, saddr), addrs, 8, 0);
}

/*
 * Rewrites the packet to new_src:new_sport -> new_dst:new_dport, only what changed, with
 * as few helper calls as the checksums allow (see bpx_rewrite_ports, bpx_rewrite_addrs4).
 * SCTP ports go one by one (each patches the CRC32c); a later fragment has no L4 header.
 */
static __always_inline int bpx_rewrite_flow(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					    const __be32 new_src[4], __be16 new_sport,
					    const __be32 new_dst[4], __be16 new_dport)
{
	__u8 proto = pkt->tuple.proto;

	if (!pkt->fragment && (new_sport != pkt->tuple.sport || new_dport != pkt->tuple.dport)) {
		if (proto == IPPROTO_SCTP) {
			if (bpx_rewrite_port(skb, pkt, 0, new_sport) || bpx_rewrite_port(skb, pkt, 1, new_dport))
				return -1;
		} else if (bpx_rewrite_ports(skb, pkt, new_sport, new_dport)) {
			return -1;
		}
	}
	if (!pkt->v6) {
		if (new_src[3] == pkt->tuple.src32[3] && new_dst[3] == pkt->tuple.dst32[3])
			return 0;
		return bpx_rewrite_addrs4(skb, pkt, new_src[3], new_dst[3]);
	}
	if (bpx_rewrite_addr(skb, pkt, 0, new_src, proto))
		return -1;
	return bpx_rewrite_addr(skb, pkt, 1, new_dst, proto);
}

#endif
