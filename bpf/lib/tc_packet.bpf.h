/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-packet basics for the TC programs: parsing an Ethernet frame into a flow tuple,
 * and rewriting addresses and ports with their checksums. Reads and writes go through
 * bpf_skb_load_bytes/store_bytes, so non-linear skbs need no pull and the verifier sees
 * only stack memory.
 */
#ifndef BPFPROXY_TC_PACKET_BPF_H
#define BPFPROXY_TC_PACKET_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lb_lookup.bpf.h"
#include "sctp_crc.bpf.h"

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif

/* From linux/icmp.h and linux/icmpv6.h, which pull in libc headers. */
#define BPX_IPPROTO_ICMPV6 58
#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PORT_UNREACH 4
#define ICMPV6_PARAMPROB 4

struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest; /* unused, or MTU / pointer */
};

struct icmp6hdr {
	__u8 icmp6_type;
	__u8 icmp6_code;
	__sum16 icmp6_cksum;
	__be32 icmp6_rest;
};

/* A parsed packet: where its headers are and the flow it belongs to. */
struct bpx_pkt {
	struct bpx_ct_key tuple; /* src, dst, ports, proto (BPX_PROTO_* or ICMP); dir 0 */
	__u32 l3_off;
	__u32 l4_off;
	__u16 l3_proto; /* ETH_P_IP or ETH_P_IPV6, host order */
	__u8 v6;
	__u8 tcp_flags; /* byte 13 of the TCP header */
	__u8 fragment;  /* a later fragment: ports only from its first (frag_ports) */
	__u8 icmp_type;
	__u16 l4_len;   /* bytes from the L4 header to the end of the IP payload */
	__u8 first_fragment; /* offset 0, more fragments follow: ports, but not all the data */
	__u8 frag_ports;     /* a later fragment whose ports were found */
	__u8 pad[2];
	__be32 frag_id;      /* IP identification of a fragment */
};

/* IPv6 extension headers walked to the transport header. */
#define BPX_IPV6_EXT_MAX 6
#define BPX_NEXTHDR_HOP 0
#define BPX_NEXTHDR_ROUTING 43
#define BPX_NEXTHDR_FRAGMENT 44
#define BPX_NEXTHDR_AUTH 51
#define BPX_NEXTHDR_DEST 60

/* Walks IPv6 extension headers from pkt->l4_off to the transport header (*proto is
 * the first next-header, then the transport protocol). A fragment header fills in the
 * fragment fields. 0, or -1 when there are more than BPX_IPV6_EXT_MAX or one cannot be
 * read (the packet then passes untranslated). A global function: verified once. */
__attribute__((noinline)) int bpx_ipv6_skip_ext(struct __sk_buff *skb, struct bpx_pkt *pkt, __u8 *proto)
{
	__u32 start;
	int i;

	if (!pkt || !proto)
		return -1;
	start = pkt->l4_off;
	for (i = 0; i < BPX_IPV6_EXT_MAX; i++) {
		__u8 next = *proto;
		__u8 hdr[8];

		if (next == BPX_NEXTHDR_HOP || next == BPX_NEXTHDR_ROUTING || next == BPX_NEXTHDR_DEST) {
			if (bpf_skb_load_bytes(skb, pkt->l4_off, hdr, 2))
				return -1;
			*proto = hdr[0];
			pkt->l4_off += ((__u32)hdr[1] + 1) * 8;
		} else if (next == BPX_NEXTHDR_AUTH) {
			if (bpf_skb_load_bytes(skb, pkt->l4_off, hdr, 2))
				return -1;
			*proto = hdr[0];
			pkt->l4_off += ((__u32)hdr[1] + 2) * 4;
		} else if (next == BPX_NEXTHDR_FRAGMENT) {
			__be16 frag_off;

			if (bpf_skb_load_bytes(skb, pkt->l4_off, hdr, 8))
				return -1;
			*proto = hdr[0];
			__builtin_memcpy(&frag_off, &hdr[2], 2);
			__builtin_memcpy(&pkt->frag_id, &hdr[4], 4);
			pkt->fragment = (frag_off & bpf_htons(0xfff8)) != 0;
			pkt->first_fragment = !pkt->fragment && (frag_off & bpf_htons(1));
			pkt->l4_off += 8;
		} else {
			pkt->l4_len -= pkt->l4_off - start;
			return 0;
		}
	}
	return -1;
}

/* The first fragment of a datagram records its ports; a later one takes them (counted),
 * or stays without (counted: it passes as it is). */
static __always_inline void bpx_fragment_ports(struct bpx_pkt *pkt)
{
	struct bpx_frag_key key __attribute__((aligned(8))) = {};
	struct bpx_frag_ports *found;

	__builtin_memcpy(key.src32, pkt->tuple.src32, 16);
	__builtin_memcpy(key.dst32, pkt->tuple.dst32, 16);
	key.id = pkt->frag_id;
	key.proto = pkt->tuple.proto;
	if (pkt->first_fragment) {
		struct bpx_frag_ports ports = { .sport = pkt->tuple.sport, .dport = pkt->tuple.dport };

		bpf_map_update_elem(&BPX_MAP_FRAG, &key, &ports, BPF_ANY);
		return;
	}
	found = bpf_map_lookup_elem(&BPX_MAP_FRAG, &key);
	if (!found) {
		bpx_count(BPX_STAT_TC_FRAG_MISS);
		return;
	}
	pkt->tuple.sport = found->sport;
	pkt->tuple.dport = found->dport;
	pkt->frag_ports = 1;
	bpx_count(BPX_STAT_TC_FRAGMENT);
}

#define BPX_TCP_FIN 0x01
#define BPX_TCP_SYN 0x02
#define BPX_TCP_RST 0x04
#define BPX_TCP_ACK 0x10

/* Returns 0 when the packet is IPv4 or IPv6 with a tuple; -1 for anything to pass. */
static __always_inline int bpx_parse(struct __sk_buff *skb, struct bpx_pkt *pkt)
{
	struct ethhdr eth;
	__u8 proto;

	__builtin_memset(pkt, 0, sizeof(*pkt));
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;
	pkt->l3_off = ETH_HLEN;
	pkt->l3_proto = bpf_ntohs(eth.h_proto);
	if (pkt->l3_proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) || ip.ihl < 5)
			return -1;
		bpx_v4_mapped(pkt->tuple.src32, ip.saddr);
		bpx_v4_mapped(pkt->tuple.dst32, ip.daddr);
		proto = ip.protocol;
		pkt->l4_off = ETH_HLEN + ip.ihl * 4;
		pkt->l4_len = bpf_ntohs(ip.tot_len) - ip.ihl * 4;
		pkt->fragment = (ip.frag_off & bpf_htons(0x1fff)) != 0;
		pkt->first_fragment = !pkt->fragment && (ip.frag_off & bpf_htons(0x2000));
		pkt->frag_id = (__be32)ip.id;
	} else if (pkt->l3_proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
			return -1;
		__builtin_memcpy(pkt->tuple.src, &ip6.saddr, 16);
		__builtin_memcpy(pkt->tuple.dst, &ip6.daddr, 16);
		proto = ip6.nexthdr;
		pkt->l4_off = ETH_HLEN + sizeof(ip6);
		pkt->l4_len = bpf_ntohs(ip6.payload_len);
		pkt->v6 = 1;
		if (bpx_ipv6_skip_ext(skb, pkt, &proto))
			return -1;
	} else {
		return -1;
	}
	pkt->tuple.proto = proto;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP && pkt->fragment)
		return 0;
	if (pkt->fragment) {
		bpx_fragment_ports(pkt);
		return 0;
	}
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, pkt->l4_off, ports, sizeof(ports)))
			return -1;
		pkt->tuple.sport = ports[0];
		pkt->tuple.dport = ports[1];
		if (pkt->first_fragment)
			bpx_fragment_ports(pkt);
		if (proto == IPPROTO_TCP &&
		    bpf_skb_load_bytes(skb, pkt->l4_off + 13, &pkt->tcp_flags, 1))
			return -1;
	} else if (proto == IPPROTO_ICMP || proto == BPX_IPPROTO_ICMPV6) {
		if (bpf_skb_load_bytes(skb, pkt->l4_off, &pkt->icmp_type, 1))
			return -1;
	}
	return 0;
}

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

#endif
