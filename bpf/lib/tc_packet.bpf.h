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
	__u8 fragment;  /* a later fragment: no ports */
	__u8 icmp_type;
	__u8 pad[2];
};

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
		pkt->fragment = (ip.frag_off & bpf_htons(0x1fff)) != 0;
	} else if (pkt->l3_proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
			return -1;
		__builtin_memcpy(pkt->tuple.src, &ip6.saddr, 16);
		__builtin_memcpy(pkt->tuple.dst, &ip6.daddr, 16);
		proto = ip6.nexthdr; /* extension headers are not walked: such packets pass */
		pkt->l4_off = ETH_HLEN + sizeof(ip6);
		pkt->v6 = 1;
	} else {
		return -1;
	}
	pkt->tuple.proto = proto;
	if (pkt->fragment)
		return 0;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, pkt->l4_off, ports, sizeof(ports)))
			return -1;
		pkt->tuple.sport = ports[0];
		pkt->tuple.dport = ports[1];
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

/* Rewrites the source (which = 0) or destination (which = 1) port. */
static __always_inline int bpx_rewrite_port(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					    int which, __be16 new_port)
{
	__be16 old = which ? pkt->tuple.dport : pkt->tuple.sport;
	__u32 csum_off = bpx_l4_csum_off(pkt->tuple.proto);

	if (old == new_port)
		return 0;
	if (pkt->tuple.proto == IPPROTO_SCTP)
		return -1; /* the CRC32c would have to be recomputed over the whole packet */
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
