/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-packet basics for the TC programs: parsing an Ethernet frame into a flow tuple
 * (rewrites are in tc_rewrite.bpf.h). Reads and writes go through
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
		/* TCP: the ports and the flags (byte 13) in one read. */
		__u8 l4[14];

		if (bpf_skb_load_bytes(skb, pkt->l4_off, l4, proto == IPPROTO_TCP ? 14 : 4))
			return -1;
		__builtin_memcpy(&pkt->tuple.sport, &l4[0], 2);
		__builtin_memcpy(&pkt->tuple.dport, &l4[2], 2);
		if (proto == IPPROTO_TCP)
			pkt->tcp_flags = l4[13];
		if (pkt->first_fragment)
			bpx_fragment_ports(pkt);
	} else if (proto == IPPROTO_ICMP || proto == BPX_IPPROTO_ICMPV6) {
		if (bpf_skb_load_bytes(skb, pkt->l4_off, &pkt->icmp_type, 1))
			return -1;
	}
	return 0;
}

#endif
