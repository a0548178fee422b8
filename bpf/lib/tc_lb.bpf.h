/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-packet load balancer behind the TC programs. Two scopes:
 *  - node devices (--devices): NodePorts, externalIPs, load-balancer IPs, and ClusterIPs
 *    only when the agent allows them from outside; externalTrafficPolicy Cluster SNATs to
 *    this node when the backend is elsewhere;
 *  - pod-facing devices: ClusterIPs (and the rest) for pods listed in bpx_tcpod, the
 *    workloads that bypass the socket hooks; never SNAT except for hairpin.
 * Ingress programs translate new and forward packets and the replies that come back to
 * this node's SNAT address; egress programs translate the replies of flows that were only
 * DNAT'ed. ICMP errors about translated flows are translated with them.
 */
#ifndef BPFPROXY_TC_LB_BPF_H
#define BPFPROXY_TC_LB_BPF_H

#include "tc_ct.bpf.h"
#include "tc_reply.bpf.h"
#include "svc_stats.bpf.h"

#define BPX_SCOPE_NODE 0
#define BPX_SCOPE_POD 1

/* bpx_tc_forward asks its caller to reject the packet, counted under the stat added:
 * building the answer in the caller keeps the stack of one call chain under 512 bytes. */
#define BPX_TC_REJECT 0x10000

/* Applies a translation to the packet: destination to the backend, source to the SNAT
 * address when the flow has one. */
static __always_inline int bpx_apply_forward(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					     const struct bpx_xlate *x)
{
	if (x->flags & BPX_CT_F_SNAT)
		return bpx_rewrite_flow(skb, pkt, x->snat, x->snat_port, x->backend, x->backend_port);
	return bpx_rewrite_flow(skb, pkt, pkt->tuple.src32, pkt->tuple.sport, x->backend, x->backend_port);
}

/*
 * Replies of translated flows: the source goes back to the frontend, and for SNAT'ed
 * flows the destination back to the client. Returns 1 when translated (with *snat set
 * for SNAT'ed flows), 0 when the packet is no reply, -1 on a failed rewrite.
 */
static __always_inline int bpx_reply_revnat(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					    int allow_snat, __be32 new_src[4], __be32 new_dst[4])
{
	struct bpx_ct_key key __attribute__((aligned(8)));
	struct bpx_ct_value *ct;
	__u8 proto = pkt->tuple.proto;

	__builtin_memcpy(&key, &pkt->tuple, sizeof(key));
	key.dir = BPX_CT_REPLY;
	ct = bpf_map_lookup_elem(&BPX_MAP_CT, &key);
	if (!ct || ((ct->flags & BPX_CT_F_SNAT) && !allow_snat))
		return 0;
	if (proto == BPX_PROTO_TCP)
		bpx_ct_track_close(ct, pkt->tcp_flags, 0);
	__builtin_memcpy(new_src, ct->nat_addr32, 16);
	if (ct->flags & BPX_CT_F_SNAT) {
		__builtin_memcpy(new_dst, ct->orig_addr32, 16);
		if (bpx_rewrite_flow(skb, pkt, new_src, ct->nat_port, new_dst, ct->orig_port))
			return -1;
	} else {
		__builtin_memcpy(new_dst, pkt->tuple.dst32, 16);
		if (bpx_rewrite_flow(skb, pkt, new_src, ct->nat_port, new_dst, pkt->tuple.dport))
			return -1;
	}
	bpx_count(BPX_STAT_TC_REVNAT);
	return 1;
}

static __always_inline int bpx_icmp_is_error(const struct bpx_pkt *pkt)
{
	if (!pkt->v6)
		return pkt->icmp_type == ICMP_DEST_UNREACH || pkt->icmp_type == ICMP_TIME_EXCEEDED ||
		       pkt->icmp_type == ICMP_PARAMETERPROB;
	return pkt->icmp_type >= ICMPV6_DEST_UNREACH && pkt->icmp_type <= ICMPV6_PARAMPROB;
}

/* One 16-bit or 32-bit field inside an ICMP error's quote, with the ICMP checksum. */
static __always_inline int bpx_icmp_quote_store(struct __sk_buff *skb, const struct bpx_pkt *pkt,
						__u32 off, const void *old, const void *new, __u32 size)
{
	__u32 csum_off = pkt->l4_off + 2;

	if (size == 2) {
		if (bpf_l4_csum_replace(skb, csum_off, *(__u16 *)old, *(__u16 *)new, 2))
			return -1;
	} else if (size == 4) {
		if (bpf_l4_csum_replace(skb, csum_off, *(__u32 *)old, *(__u32 *)new, 4))
			return -1;
	} else {
		__s64 diff = bpf_csum_diff((__be32 *)old, 16, (__be32 *)new, 16, 0);

		if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, diff, 0))
			return -1;
	}
	return bpf_skb_store_bytes(skb, off, new, size, 0);
}

/*
 * An ICMP error about a translated flow: the quoted packet is the one the backend saw
 * (client or SNAT address -> backend). It is turned into what the client sent (client ->
 * frontend), and the outer header follows: the destination back to the client, and a
 * source that was the backend becomes the frontend. The quoted L4 checksum is left as
 * is (receivers do not check it; the ICMP checksum covers the bytes as written).
 * Returns 1 when translated, 0 when not ours, -1 on a failed rewrite.
 */
static __always_inline int bpx_icmp_revnat(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					   int allow_snat, __be32 new_src[4], __be32 new_dst[4])
{
	struct bpx_ct_key key __attribute__((aligned(8))) = {};
	__be32 inner_src[4], inner_dst[4];
	__u32 inner_l3 = pkt->l4_off + 8, inner_l4, src_off, dst_off;
	__be16 inner_ports[2];
	struct bpx_ct_value *ct;
	__u8 inner_proto;

	if (!pkt->v6) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, inner_l3, &ip, sizeof(ip)) || ip.ihl < 5)
			return 0;
		bpx_v4_mapped(inner_src, ip.saddr);
		bpx_v4_mapped(inner_dst, ip.daddr);
		inner_proto = ip.protocol;
		inner_l4 = inner_l3 + ip.ihl * 4;
		src_off = inner_l3 + offsetof(struct iphdr, saddr);
		dst_off = inner_l3 + offsetof(struct iphdr, daddr);
	} else {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, inner_l3, &ip6, sizeof(ip6)))
			return 0;
		__builtin_memcpy(inner_src, &ip6.saddr, 16);
		__builtin_memcpy(inner_dst, &ip6.daddr, 16);
		inner_proto = ip6.nexthdr;
		inner_l4 = inner_l3 + sizeof(ip6);
		src_off = inner_l3 + offsetof(struct ipv6hdr, saddr);
		dst_off = inner_l3 + offsetof(struct ipv6hdr, daddr);
	}
	if (inner_proto != IPPROTO_TCP && inner_proto != IPPROTO_UDP && inner_proto != IPPROTO_SCTP)
		return 0;
	if (bpf_skb_load_bytes(skb, inner_l4, inner_ports, sizeof(inner_ports)))
		return 0;
	/* The quoted packet went backend-wards: its reverse is the flow's reply. */
	bpx_ct_reply_key(&key, inner_dst, inner_ports[1], inner_src, inner_ports[0], inner_proto);
	ct = bpf_map_lookup_elem(&BPX_MAP_CT, &key);
	if (!ct || ((ct->flags & BPX_CT_F_SNAT) && !allow_snat))
		return 0;

	/* Quoted destination: backend -> frontend. */
	if (!pkt->v6) {
		struct iphdr ip;
		__u16 old_check;

		if (bpf_skb_load_bytes(skb, inner_l3, &ip, sizeof(ip)))
			return -1;
		old_check = ip.check;
		ip.check = bpx_csum_replace4(ip.check, ip.daddr, ct->nat_addr32[3]);
		if (ct->flags & BPX_CT_F_SNAT)
			ip.check = bpx_csum_replace4(ip.check, ip.saddr, ct->orig_addr32[3]);
		if (bpx_icmp_quote_store(skb, pkt, inner_l3 + offsetof(struct iphdr, check),
					 &old_check, &ip.check, 2) ||
		    bpx_icmp_quote_store(skb, pkt, dst_off, &inner_dst[3], &ct->nat_addr32[3], 4))
			return -1;
		if ((ct->flags & BPX_CT_F_SNAT) &&
		    bpx_icmp_quote_store(skb, pkt, src_off, &inner_src[3], &ct->orig_addr32[3], 4))
			return -1;
	} else {
		if (bpx_icmp_quote_store(skb, pkt, dst_off, inner_dst, ct->nat_addr32, 16))
			return -1;
		if ((ct->flags & BPX_CT_F_SNAT) &&
		    bpx_icmp_quote_store(skb, pkt, src_off, inner_src, ct->orig_addr32, 16))
			return -1;
	}
	if (bpx_icmp_quote_store(skb, pkt, inner_l4 + 2, &inner_ports[1], &ct->nat_port, 2))
		return -1;
	if ((ct->flags & BPX_CT_F_SNAT) &&
	    bpx_icmp_quote_store(skb, pkt, inner_l4, &inner_ports[0], &ct->orig_port, 2))
		return -1;

	/* Outer header. */
	__builtin_memcpy(new_src, pkt->tuple.src32, 16);
	__builtin_memcpy(new_dst, pkt->tuple.dst32, 16);
	if (bpx_addr_equal(pkt->tuple.src32, inner_dst)) {
		__builtin_memcpy(new_src, ct->nat_addr32, 16);
		if (bpx_rewrite_addr(skb, pkt, 0, ct->nat_addr32, pkt->tuple.proto))
			return -1;
	}
	if (ct->flags & BPX_CT_F_SNAT) {
		__builtin_memcpy(new_dst, ct->orig_addr32, 16);
		if (bpx_rewrite_addr(skb, pkt, 1, ct->orig_addr32, pkt->tuple.proto))
			return -1;
	}
	bpx_count(BPX_STAT_TC_ICMP_REVNAT);
	return 1;
}

/* Replies and ICMP errors, on any program. Returns -1 when the packet is none of ours,
 * else the verdict. Ingress forwards translated replies by FIB (their new source may be
 * this node's address); egress lets them continue. A global function, as is
 * bpx_tc_forward: each is verified once, so their paths do not multiply. */
__attribute__((noinline)) int bpx_tc_reverse(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					     int ingress)
{
	__be32 new_src[4], new_dst[4];
	int rc;

	if (!pkt)
		return -1;
	if (pkt->tuple.proto == IPPROTO_ICMP || pkt->tuple.proto == BPX_IPPROTO_ICMPV6) {
		if (!bpx_icmp_is_error(pkt))
			return -1;
		rc = bpx_icmp_revnat(skb, pkt, ingress, new_src, new_dst);
	} else {
		rc = bpx_reply_revnat(skb, pkt, ingress, new_src, new_dst);
	}
	if (rc < 0)
		return TC_ACT_SHOT;
	if (rc == 0)
		return -1;
	return ingress ? bpx_fib_redirect(skb, new_src, new_dst, pkt->v6) : TC_ACT_OK;
}

/* A destination no frontend matched: inside the service CIDR it is refused. */
static __always_inline int bpx_tc_unmatched(const struct bpx_pkt *pkt)
{
	struct bpx_svc_key vip __attribute__((aligned(8))) = {};

	if (!bpx_in_lpm(BPX_LPM_SERVICE_CIDR, pkt->tuple.dst32))
		return TC_ACT_OK;
	if (pkt->fragment)
		return TC_ACT_SHOT; /* its first fragment was refused */
	__builtin_memcpy(vip.addr32, pkt->tuple.dst32, 16);
	if (bpx_is_known_vip(&vip))
		return BPX_TC_REJECT + BPX_STAT_TC_REJECT_NO_PORT;
	return BPX_TC_REJECT + BPX_STAT_TC_REJECT_UNALLOCATED;
}

/* New and forward packets towards a frontend. */
__attribute__((noinline)) int bpx_tc_forward(struct __sk_buff *skb, const struct bpx_pkt *pkt, int scope)
{
	struct bpx_svc_key frontend __attribute__((aligned(8))) = {};
	struct bpx_tc_config *config = bpx_config();
	struct bpx_svc_value *svc;
	struct bpx_xlate x;
	__be32 snat[4] = {};
	int nodeport = 0;
	int snat_remote;
	int rc;

	if (!pkt)
		return TC_ACT_OK;
	__builtin_memcpy(frontend.addr32, pkt->tuple.dst32, 16);
	frontend.port = pkt->tuple.dport;
	frontend.proto = pkt->tuple.proto;
	/* A pod's packets (the pod-facing devices) are inside the cluster: Local does not
	 * restrict them. What arrives on a node device is outside traffic, as bpfproxy tells
	 * pod traffic by where a connection starts (there is no cluster CIDR). */
	svc = bpx_lookup_frontend(&frontend, scope == BPX_SCOPE_POD, &nodeport);
	if (!svc)
		return bpx_tc_unmatched(pkt);
	if (svc->flags & (BPX_SVC_F_WILDCARD | BPX_SVC_F_LB_PROXY))
		return TC_ACT_OK;
	if (scope == BPX_SCOPE_NODE && (svc->flags & BPX_SVC_F_CLUSTER_IP) &&
	    !(config && (config->flags & BPX_TC_CFG_ALLOW_EXTERNAL_CLUSTER_IP))) {
		bpx_count(BPX_STAT_TC_DROP_EXT_CLUSTER_IP);
		return TC_ACT_SHOT;
	}
	if ((svc->flags & BPX_SVC_F_SOURCE_RANGES) && !bpx_in_lpm(svc->svc_id, pkt->tuple.src32)) {
		bpx_count(BPX_STAT_TC_DROP_SRC_RANGE);
		return TC_ACT_SHOT;
	}
	if (!svc->backend_count) {
		if (svc->flags & BPX_SVC_F_LOCAL) {
			bpx_count(BPX_STAT_TC_DROP_NO_LOCAL);
			return TC_ACT_SHOT;
		}
		return BPX_TC_REJECT + BPX_STAT_TC_REJECT_NO_BACKEND;
	}
	/* Cluster policy from outside: a remote backend answers through this node. The
	 * source becomes the address the client used when it is this node's (NodePort),
	 * else the node's SNAT address of the family. */
	snat_remote = scope == BPX_SCOPE_NODE && !(svc->flags & BPX_SVC_F_LOCAL);
	if (nodeport)
		__builtin_memcpy(snat, pkt->tuple.dst32, 16);
	else if (config && !pkt->v6)
		__builtin_memcpy(snat, config->snat_v4_32, 16);
	else if (config)
		__builtin_memcpy(snat, config->snat_v6_32, 16);
	rc = bpx_ct_forward(skb, pkt, svc, snat_remote, snat, &x);
	if (rc > 0)
		return BPX_TC_REJECT + BPX_STAT_TC_REJECT_DRAINED;
	if (rc)
		return TC_ACT_SHOT;
	if (x.new_flow)
		bpx_count(nodeport ? BPX_STAT_TC_NODEPORT
			  : (svc->flags & BPX_SVC_F_CLUSTER_IP) ? BPX_STAT_TC_CLUSTER_IP
								  : BPX_STAT_TC_EXTERNAL);
	if (bpx_apply_forward(skb, pkt, &x)) {
		bpx_count(BPX_STAT_TC_DROP_UNSUPPORTED);
		return TC_ACT_SHOT;
	}
	if (svc->flags & BPX_SVC_F_METRICS)
		bpx_svc_stats_add(svc->svc_id, x.backend_id, BPX_SVC_STATS_TC, x.new_flow, skb->len);
	if (x.flags & BPX_CT_F_SNAT)
		return bpx_fib_redirect(skb, x.snat, x.backend, pkt->v6);
	return TC_ACT_OK;
}

static __always_inline int bpx_is_l4(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* Ingress of a node device (scope NODE) or of a pod-facing device (scope POD: packets
 * from the pod). */
static __always_inline int bpx_tc_ingress(struct __sk_buff *skb, int scope)
{
	struct bpx_svc_key pod __attribute__((aligned(8))) = {};
	struct bpx_pkt pkt;
	int rc;

	if (bpx_parse(skb, &pkt) || (pkt.fragment && !pkt.frag_ports))
		return TC_ACT_OK;
	rc = bpx_tc_reverse(skb, &pkt, 1);
	if (rc >= 0)
		return rc;
	if (!bpx_is_l4(pkt.tuple.proto))
		return TC_ACT_OK;
	if (scope == BPX_SCOPE_POD) {
		/* Only the workloads that bypass the socket hooks: for the others the socket
		 * hooks already translated, and a second translation must never happen. */
		__builtin_memcpy(pod.addr32, pkt.tuple.src32, 16);
		if (!bpf_map_lookup_elem(&BPX_MAP_TC_POD, &pod))
			return TC_ACT_OK;
	}
	rc = bpx_tc_forward(skb, &pkt, scope);
	if (rc >= BPX_TC_REJECT)
		return bpx_reject(skb, &pkt, rc - BPX_TC_REJECT);
	return rc;
}

/* Egress: replies of DNAT-only flows leaving through this device. */
static __always_inline int bpx_tc_egress(struct __sk_buff *skb)
{
	struct bpx_pkt pkt;
	int rc;

	if (bpx_parse(skb, &pkt) || (pkt.fragment && !pkt.frag_ports))
		return TC_ACT_OK;
	rc = bpx_tc_reverse(skb, &pkt, 0);
	return rc >= 0 ? rc : TC_ACT_OK;
}

#endif
