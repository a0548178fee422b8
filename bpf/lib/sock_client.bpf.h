/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Who is behind a local socket: whether its workload opted out of the socket path
 * (bpx_optout), and the client address the TC path would see for it (affinity and
 * loadBalancerSourceRanges). The harness overrides the cgroup and netns helpers.
 */
#ifndef BPFPROXY_SOCK_CLIENT_BPF_H
#define BPFPROXY_SOCK_CLIENT_BPF_H

#include "lb_lookup.bpf.h"

#ifndef BPX_NETNS_COOKIE
#define BPX_NETNS_COOKIE(ctx) bpf_get_netns_cookie(ctx)
#endif
#ifndef BPX_CGROUP_ANCESTOR
#define BPX_CGROUP_ID() bpf_get_current_cgroup_id()
#define BPX_CGROUP_ANCESTOR(level) bpf_get_current_ancestor_cgroup_id(level)
#endif
/* Opt-out is looked up for the caller's cgroup and this many ancestors. */
#define BPX_OPTOUT_LEVELS 12

/* A workload whose cgroup (or an ancestor's) is in bpx_optout uses the per-packet path
 * on its pod-facing device instead: its sockets are left alone here, so each flow is
 * translated by one path only. */
static __always_inline int bpx_opted_out(void)
{
	struct bpx_tc_config *config = bpx_config();
	__u64 id;
	int level;

	if (!config || !config->optout_count)
		return 0;
	id = BPX_CGROUP_ID();
	if (bpf_map_lookup_elem(&BPX_MAP_SOCK_OPTOUT, &id))
		return 1;
	for (level = 1; level < BPX_OPTOUT_LEVELS; level++) {
		id = BPX_CGROUP_ANCESTOR(level);
		if (!id)
			break;
		if (bpf_map_lookup_elem(&BPX_MAP_SOCK_OPTOUT, &id))
			return 1;
	}
	return 0;
}

/*
 * The client a socket speaks for, as the TC path would see its packets' source (affinity
 * and loadBalancerSourceRanges): the node's address in the node's own namespace (the
 * node and host-network pods), else the address the agent found in the socket's
 * namespace. Returns 0 with the netns-cookie stand-in when the address is not known yet.
 */
static __always_inline int bpx_sock_client(__u64 netns_cookie, int v4, __be32 client[4])
{
	struct bpx_tc_config *config = bpx_config();
	struct bpx_netns_addr *ns;
	const __be32 *found = 0;

	if (config && config->node_netns_cookie && netns_cookie == config->node_netns_cookie)
		found = v4 ? config->snat_v4_32 : config->snat_v6_32;
	else if ((ns = bpf_map_lookup_elem(&BPX_MAP_NETNS_ADDR, &netns_cookie)))
		found = v4 ? ns->v4_32 : ns->v6_32;
	if (found && (found[0] | found[1] | found[2] | found[3])) {
		__builtin_memcpy(client, found, 16);
		return 1;
	}
	client[0] = bpf_htonl(BPX_CLIENT_NETNS_PREFIX);
	client[1] = 0;
	client[2] = bpf_htonl((__u32)(netns_cookie >> 32));
	client[3] = bpf_htonl((__u32)netns_cookie);
	return 0;
}

#endif
