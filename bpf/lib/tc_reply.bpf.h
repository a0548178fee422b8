/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packets the TC programs answer with or send on: rejections (TCP RST, ICMP port
 * unreachable) built in place from the offending packet and bounced out of the device it
 * came in on, and forwarding by FIB lookup for translated packets the stack must not see
 * (their source is this node's address, which the stack would drop as martian).
 */
#ifndef BPFPROXY_TC_REPLY_BPF_H
#define BPFPROXY_TC_REPLY_BPF_H

#include "tc_rewrite.bpf.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#define BPX_REPLY_TTL 64

struct bpx_tcp_rst {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff_res; /* data offset << 4 */
	__u8 flags;
	__be16 window;
	__be16 check;
	__be16 urg_ptr;
};

struct bpx_pseudo4 {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

struct bpx_pseudo6 {
	__be32 saddr[4];
	__be32 daddr[4];
	__be32 len;
	__u8 zero[3];
	__u8 proto;
};

struct bpx_icmp4_reject {
	struct iphdr ip;
	struct icmphdr icmp;
	struct iphdr orig;
	__u8 orig_l4[8];
};

struct bpx_icmp6_reject {
	struct ipv6hdr ip;
	struct icmp6hdr icmp;
	struct ipv6hdr orig;
	__u8 orig_l4[8];
};

static __always_inline int bpx_swap_macs(struct __sk_buff *skb)
{
	struct ethhdr eth;
	__u8 mac[ETH_ALEN];

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;
	__builtin_memcpy(mac, eth.h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(eth.h_dest, mac, ETH_ALEN);
	return bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0);
}

static __always_inline __u16 bpx_ipv4_check(struct iphdr *ip)
{
	ip->check = 0;
	return bpx_csum_fold((__u32)bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0));
}

/* Turns a TCP segment into the RST that answers it (RFC 793 reset generation). */
static __always_inline int bpx_build_rst(struct __sk_buff *skb, const struct bpx_pkt *pkt)
{
	struct bpx_tcp_rst in, out = {};
	__u32 payload, l3_len, seg;
	__s64 sum;

	if (pkt->tcp_flags & BPX_TCP_RST)
		return -1; /* never answer a reset */
	if (bpf_skb_load_bytes(skb, pkt->l4_off, &in, sizeof(in)))
		return -1;
	if (!pkt->v6) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, pkt->l3_off, &ip, sizeof(ip)))
			return -1;
		l3_len = bpf_ntohs(ip.tot_len);
		payload = l3_len - (pkt->l4_off - pkt->l3_off) - (in.doff_res >> 4) * 4;
	} else {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, pkt->l3_off, &ip6, sizeof(ip6)))
			return -1;
		payload = bpf_ntohs(ip6.payload_len) - (in.doff_res >> 4) * 4;
	}
	seg = payload & 0xffff;
	out.source = in.dest;
	out.dest = in.source;
	out.doff_res = 5 << 4;
	if (pkt->tcp_flags & BPX_TCP_ACK) {
		out.seq = in.ack_seq;
		out.flags = BPX_TCP_RST;
	} else {
		if (pkt->tcp_flags & BPX_TCP_SYN)
			seg++;
		if (pkt->tcp_flags & BPX_TCP_FIN)
			seg++;
		out.ack_seq = bpf_htonl(bpf_ntohl(in.seq) + seg);
		out.flags = BPX_TCP_RST | BPX_TCP_ACK;
	}
	if (bpx_swap_macs(skb))
		return -1;
	if (!pkt->v6) {
		struct iphdr ip = {};
		struct bpx_pseudo4 ph = {};

		ip.version = 4;
		ip.ihl = 5;
		ip.tot_len = bpf_htons(sizeof(ip) + sizeof(out));
		ip.ttl = BPX_REPLY_TTL;
		ip.protocol = IPPROTO_TCP;
		ip.saddr = pkt->tuple.dst32[3];
		ip.daddr = pkt->tuple.src32[3];
		ip.check = bpx_ipv4_check(&ip);
		ph.saddr = ip.saddr;
		ph.daddr = ip.daddr;
		ph.proto = IPPROTO_TCP;
		ph.len = bpf_htons(sizeof(out));
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
		sum = bpf_csum_diff(0, 0, (__be32 *)&out, sizeof(out), (__u32)sum);
		out.check = bpx_csum_fold((__u32)sum);
		if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(ip) + sizeof(out), 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN, &ip, sizeof(ip), 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(ip), &out, sizeof(out), 0))
			return -1;
	} else {
		struct ipv6hdr ip6 = {};
		struct bpx_pseudo6 ph = {};

		ip6.version = 6;
		ip6.payload_len = bpf_htons(sizeof(out));
		ip6.nexthdr = IPPROTO_TCP;
		ip6.hop_limit = BPX_REPLY_TTL;
		__builtin_memcpy(&ip6.saddr, pkt->tuple.dst, 16);
		__builtin_memcpy(&ip6.daddr, pkt->tuple.src, 16);
		__builtin_memcpy(ph.saddr, pkt->tuple.dst32, 16);
		__builtin_memcpy(ph.daddr, pkt->tuple.src32, 16);
		ph.len = bpf_htonl(sizeof(out));
		ph.proto = IPPROTO_TCP;
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
		sum = bpf_csum_diff(0, 0, (__be32 *)&out, sizeof(out), (__u32)sum);
		out.check = bpx_csum_fold((__u32)sum);
		if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(ip6) + sizeof(out), 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6), 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(ip6), &out, sizeof(out), 0))
			return -1;
	}
	return 0;
}

/* Replaces the packet by an ICMP port unreachable quoting its header and 8 bytes. */
static __always_inline int bpx_build_unreachable(struct __sk_buff *skb, const struct bpx_pkt *pkt)
{
	__s64 sum;

	if (!pkt->v6) {
		struct bpx_icmp4_reject r = {};

		if (pkt->l4_off != ETH_HLEN + sizeof(struct iphdr))
			return -1; /* IP options: the quote would need more room */
		if (bpf_skb_load_bytes(skb, pkt->l3_off, &r.orig, sizeof(r.orig)) ||
		    bpf_skb_load_bytes(skb, pkt->l4_off, r.orig_l4, sizeof(r.orig_l4)))
			return -1;
		r.ip.version = 4;
		r.ip.ihl = 5;
		r.ip.tot_len = bpf_htons(sizeof(r));
		r.ip.ttl = BPX_REPLY_TTL;
		r.ip.protocol = IPPROTO_ICMP;
		r.ip.saddr = pkt->tuple.dst32[3];
		r.ip.daddr = pkt->tuple.src32[3];
		r.ip.check = bpx_ipv4_check(&r.ip);
		r.icmp.type = ICMP_DEST_UNREACH;
		r.icmp.code = ICMP_PORT_UNREACH;
		sum = bpf_csum_diff(0, 0, (__be32 *)&r.icmp,
				    sizeof(r) - sizeof(r.ip), 0);
		r.icmp.checksum = bpx_csum_fold((__u32)sum);
		if (bpx_swap_macs(skb) || bpf_skb_change_tail(skb, ETH_HLEN + sizeof(r), 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN, &r, sizeof(r), 0))
			return -1;
	} else {
		struct bpx_icmp6_reject r = {};
		struct bpx_pseudo6 ph = {};

		if (bpf_skb_load_bytes(skb, pkt->l3_off, &r.orig, sizeof(r.orig)) ||
		    bpf_skb_load_bytes(skb, pkt->l4_off, r.orig_l4, sizeof(r.orig_l4)))
			return -1;
		r.ip.version = 6;
		r.ip.payload_len = bpf_htons(sizeof(r) - sizeof(r.ip));
		r.ip.nexthdr = BPX_IPPROTO_ICMPV6;
		r.ip.hop_limit = BPX_REPLY_TTL;
		__builtin_memcpy(&r.ip.saddr, pkt->tuple.dst, 16);
		__builtin_memcpy(&r.ip.daddr, pkt->tuple.src, 16);
		r.icmp.icmp6_type = ICMPV6_DEST_UNREACH;
		r.icmp.icmp6_code = ICMPV6_PORT_UNREACH;
		__builtin_memcpy(ph.saddr, pkt->tuple.dst32, 16);
		__builtin_memcpy(ph.daddr, pkt->tuple.src32, 16);
		ph.len = bpf_htonl(sizeof(r) - sizeof(r.ip));
		ph.proto = BPX_IPPROTO_ICMPV6;
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
		sum = bpf_csum_diff(0, 0, (__be32 *)&r.icmp, sizeof(r) - sizeof(r.ip), (__u32)sum);
		r.icmp.icmp6_cksum = bpx_csum_fold((__u32)sum);
		if (bpx_swap_macs(skb) || bpf_skb_change_tail(skb, ETH_HLEN + sizeof(r), 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN, &r, sizeof(r), 0))
			return -1;
	}
	return 0;
}

/* Rejects the packet, counted under `stat`: a TCP segment gets a RST, anything else an
 * ICMP port unreachable; the answer leaves by the device the packet came in on. A global
 * function: its large frame is not added to the caller's. */
__attribute__((noinline)) int bpx_reject(struct __sk_buff *skb, const struct bpx_pkt *pkt, __u32 stat)
{
	int rc;

	if (!pkt)
		return TC_ACT_SHOT;
	bpx_count(stat);
	if (pkt->tuple.proto == IPPROTO_TCP)
		rc = bpx_build_rst(skb, pkt);
	else if (pkt->tuple.proto == IPPROTO_UDP || pkt->tuple.proto == IPPROTO_SCTP)
		rc = bpx_build_unreachable(skb, pkt);
	else
		rc = -1;
	if (rc)
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/*
 * Sends a translated packet towards its (new) destination by FIB lookup, past the stack:
 * used when its source became this node's address, or for replies leaving through
 * another device. Packets for this node itself go up the stack (TC_ACT_OK). The TTL is
 * not decremented: the node acts as the service's endpoint, not as a router.
 */
static __always_inline int bpx_fib_redirect(struct __sk_buff *skb, const __be32 src[4],
					    const __be32 dst[4], int v6)
{
	struct bpf_fib_lookup fib = {};
	struct bpf_redir_neigh nh = {};
	long rc;

	fib.ifindex = skb->ifindex;
	if (!v6) {
		fib.family = AF_INET;
		fib.ipv4_src = src[3];
		fib.ipv4_dst = dst[3];
	} else {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_src, src, 16);
		__builtin_memcpy(fib.ipv6_dst, dst, 16);
	}
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		__u8 macs[2 * ETH_ALEN]; /* destination, source: one store */

		__builtin_memcpy(macs, fib.dmac, ETH_ALEN);
		__builtin_memcpy(macs + ETH_ALEN, fib.smac, ETH_ALEN);
		if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0))
			return TC_ACT_SHOT;
		return bpf_redirect(fib.ifindex, 0);
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		nh.nh_family = fib.family;
		if (!v6)
			nh.ipv4_nh = fib.ipv4_dst;
		else
			__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, 16);
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	return TC_ACT_OK;
}

#endif
