/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Frontend and backend lookups shared by the socket hooks (sock_lb.bpf.h) and the
 * per-packet datapath (tc_lb.bpf.h): one definition of what a frontend is, how the
 * NodePort wildcard matches, when an externalIP counts, and how a backend is picked.
 */
#ifndef BPFPROXY_LB_LOOKUP_BPF_H
#define BPFPROXY_LB_LOOKUP_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.bpf.h"

/* How many slots are searched for a flow's backend after the backend set changed. */
#define BPX_STICKY_SCAN 64

static __always_inline void bpx_v4_mapped(__be32 addr32[4], __be32 ip4)
{
	addr32[0] = 0;
	addr32[1] = 0;
	addr32[2] = bpf_htonl(0x0000ffff);
	addr32[3] = ip4;
}

static __always_inline int bpx_is_v4_mapped(const __be32 addr32[4])
{
	return addr32[0] == 0 && addr32[1] == 0 && addr32[2] == bpf_htonl(0x0000ffff);
}

static __always_inline int bpx_addr_equal(const __be32 a[4], const __be32 b[4])
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* Whether addr lies in a prefix stored under svc_id in bpx_lpm (source ranges, or the
 * service CIDRs under BPX_LPM_SERVICE_CIDR). */
static __always_inline int bpx_in_lpm(__u32 svc_id, const __be32 addr[4])
{
	struct bpx_lpm_key key __attribute__((aligned(8))) = {
		.prefixlen = 32 + 128,
		.svc_id = svc_id,
	};

	__builtin_memcpy(key.addr32, addr, 16);
	return bpf_map_lookup_elem(&BPX_MAP_LPM, &key) != 0;
}

/* An address with a wildcard entry is a ClusterIP: a port it does not define is refused
 * rather than sent towards an address nothing answers. */
static __always_inline int bpx_is_known_vip(const struct bpx_svc_key *key)
{
	struct bpx_svc_key wildcard __attribute__((aligned(8))) = {};
	struct bpx_svc_value *svc;

	__builtin_memcpy(wildcard.addr32, key->addr32, sizeof(wildcard.addr32));
	svc = bpf_map_lookup_elem(&BPX_MAP_SVC, &wildcard);
	return svc && (svc->flags & BPX_SVC_F_WILDCARD);
}

/* This node's address entry, or null. */
static __always_inline struct bpx_node_addr *bpx_node_addr(const __be32 addr32[4])
{
	struct bpx_svc_key key __attribute__((aligned(8))) = {};

	__builtin_memcpy(key.addr32, addr32, sizeof(key.addr32));
	return bpf_map_lookup_elem(&BPX_MAP_NODE_ADDR, &key);
}

/* For a client inside the cluster, an externalTrafficPolicy Local frontend's internal entry
 * (every endpoint); `matched` is the key the frontend was found under. */
static __always_inline struct bpx_svc_value *bpx_internal_view(struct bpx_svc_value *svc,
							       struct bpx_svc_key *matched)
{
	struct bpx_svc_value *view;

	if (!(svc->flags & BPX_SVC_F_LOCAL))
		return svc;
	matched->scope = BPX_SVC_SCOPE_INTERNAL;
	view = bpf_map_lookup_elem(&BPX_MAP_SVC, matched);
	return view ? view : svc;
}

/*
 * The frontend a destination names: the exact (address, port, protocol) entry, else the
 * NodePort wildcard (the family's zero address) when the address is one of this node's
 * NodePort addresses. An externalIP counts wherever it is, as kube-proxy serves it,
 * unless the agent guards against CVE-2020-8554 (only this node's then). `internal`: the
 * client is inside the cluster (a Local frontend serves it from every endpoint);
 * *nodeport tells which entry matched.
 */
static __always_inline struct bpx_svc_value *bpx_lookup_frontend(const struct bpx_svc_key *key,
								 int internal, int *nodeport)
{
	struct bpx_svc_key matched __attribute__((aligned(8))) = {};
	struct bpx_svc_value *svc = bpf_map_lookup_elem(&BPX_MAP_SVC, key);
	struct bpx_node_addr *node;
	struct bpx_tc_config *config;

	*nodeport = 0;
	if (svc) {
		if (svc->flags & BPX_SVC_F_EXTERNAL_IP) {
			config = bpx_config();
			if (config && (config->flags & BPX_TC_CFG_EXTERNAL_IPS_NODE_ONLY) &&
			    !bpx_node_addr(key->addr32))
				return 0;
		}
		if (!internal)
			return svc;
		__builtin_memcpy(&matched, key, sizeof(matched));
		return bpx_internal_view(svc, &matched);
	}
	if (!key->port)
		return 0;
	node = bpx_node_addr(key->addr32);
	if (!node || !(node->flags & BPX_NODE_ADDR_F_NODEPORT))
		return 0;
	if (bpx_is_v4_mapped(key->addr32))
		matched.addr32[2] = bpf_htonl(0x0000ffff);
	matched.port = key->port;
	matched.proto = key->proto;
	svc = bpf_map_lookup_elem(&BPX_MAP_SVC, &matched);
	if (!svc || !(svc->flags & BPX_SVC_F_NODEPORT))
		return 0;
	*nodeport = 1;
	return internal ? bpx_internal_view(svc, &matched) : svc;
}

static __always_inline struct bpx_backend *bpx_slot_backend(const struct bpx_svc_value *svc,
							    __u32 index, __u32 *backend_id)
{
	struct bpx_slot_key slot_key = {
		.svc_id = svc->svc_id,
		.index = (__u16)index,
		.bank = (__u8)(svc->generation & 1),
	};
	struct bpx_slot_value *slot = bpf_map_lookup_elem(&BPX_MAP_SLOT, &slot_key);

	if (!slot)
		return 0;
	*backend_id = slot->backend_id;
	return bpf_map_lookup_elem(&BPX_MAP_BACKEND, &slot->backend_id);
}

/* The backend, when the service's current set still lists it (searched in the first
 * BPX_STICKY_SCAN slots); null when it is gone. */
static __always_inline struct bpx_backend *bpx_backend_if_listed(const struct bpx_svc_value *svc,
								 __u32 wanted)
{
	struct bpx_backend *backend;
	__u32 backend_id = 0;
	__u32 i;

	for (i = 0; i < BPX_STICKY_SCAN && i < svc->backend_count; i++) {
		backend = bpx_slot_backend(svc, i, &backend_id);
		if (backend && backend_id == wanted)
			return backend;
	}
	return 0;
}

#endif
