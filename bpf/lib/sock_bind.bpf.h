/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bind protection for the post_bind hooks: a local bind that would shadow a NodePort. */
#ifndef BPFPROXY_SOCK_BIND_BPF_H
#define BPFPROXY_SOCK_BIND_BPF_H

#include <linux/in.h>
#include "lb_lookup.bpf.h"

/*
 * post_bind: a local socket bound to a NodePort on an address NodePorts answer on (or on
 * the wildcard) would never see its traffic, and would confuse whoever debugs it: the
 * bind fails with EADDRINUSE, as with Cilium's bind protection. `port` is in host order.
 */
static __always_inline int bpx_bind_allowed(const __be32 addr32[4], __u32 port, __u32 protocol,
					    int v6)
{
	struct bpx_svc_key key __attribute__((aligned(8))) = {};
	struct bpx_node_addr *node;
	struct bpx_svc_value *svc;
	int any = !addr32[0] && !addr32[1] && !addr32[3] &&
		  (!addr32[2] || addr32[2] == bpf_htonl(0x0000ffff));

	if (!port || (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP))
		return 1;
	if (!any) {
		node = bpx_node_addr(addr32);
		if (!node || !(node->flags & BPX_NODE_ADDR_F_NODEPORT))
			return 1;
	}
	key.port = bpf_htons((__u16)port);
	key.proto = protocol == IPPROTO_UDP ? BPX_PROTO_UDP : BPX_PROTO_TCP;
	/* A v4-mapped or any-address v4 bind shadows IPv4 NodePorts; an IPv6 wildcard bind
	 * (dual-stack by default) shadows both families. */
	if (!v6 || bpx_is_v4_mapped(addr32) || any) {
		key.addr32[2] = bpf_htonl(0x0000ffff);
		svc = bpf_map_lookup_elem(&BPX_MAP_SVC, &key);
		if (svc && (svc->flags & BPX_SVC_F_NODEPORT))
			return 0;
	}
	if (v6) {
		key.addr32[2] = 0;
		svc = bpf_map_lookup_elem(&BPX_MAP_SVC, &key);
		if (svc && (svc->flags & BPX_SVC_F_NODEPORT))
			return 0;
	}
	return 1;
}

#endif
