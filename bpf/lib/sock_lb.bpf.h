/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-level load balancing: the logic behind the cgroup sock_addr hooks. The kernel
 * cannot test-run those hooks, so everything lives here and takes a struct bpf_sock_addr
 * pointer; tests/bpf/sock_lb_harness.bpf.c drives the same functions from XDP with a
 * context built on the stack. The two hook-only helpers go through macros it overrides.
 */
#ifndef BPFPROXY_SOCK_LB_BPF_H
#define BPFPROXY_SOCK_LB_BPF_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <asm-generic/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "affinity.bpf.h"

#ifndef BPX_SOCK_STATE
/* The socket's own state; create: allocate it on first use (zeroed). */
#define BPX_SOCK_STATE(ctx, create) \
	((struct bpx_sock_state *)bpf_sk_storage_get(&BPX_MAP_SOCK, (ctx)->sk, 0, \
						     (create) ? BPF_SK_STORAGE_GET_F_CREATE : 0))
#define BPX_NETNS_COOKIE(ctx) bpf_get_netns_cookie(ctx)
#endif
#ifndef BPX_REFUSE
/* connect() and sendmsg() fail with ECONNREFUSED, like kube-proxy's reject rule. */
#define BPX_REFUSE(ctx) bpf_set_retval(-ECONNREFUSED)
#define BPX_REFUSE_BIND(ctx) bpf_set_retval(-EADDRINUSE)
#endif

#ifndef BPX_CGROUP_ANCESTOR
#define BPX_CGROUP_ID() bpf_get_current_cgroup_id()
#define BPX_CGROUP_ANCESTOR(level) bpf_get_current_ancestor_cgroup_id(level)
#endif
/* Opt-out is looked up for the caller's cgroup and this many ancestors. */
#define BPX_OPTOUT_LEVELS 12

#define BPX_HOOK_ALLOW 1
#define BPX_HOOK_REJECT 0

enum bpx_pick {
	BPX_PICK_NOT_A_SERVICE,
	BPX_PICK_TRANSLATED,
	BPX_PICK_REFUSED,
};

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

static __always_inline __u8 bpx_sock_proto(const struct bpf_sock_addr *ctx)
{
	if (ctx->protocol == IPPROTO_UDP)
		return BPX_PROTO_UDP;
	return ctx->protocol == IPPROTO_SCTP ? BPX_PROTO_SCTP : BPX_PROTO_TCP;
}

/* The peer of this socket for a frontend, or -1. */
static __always_inline int bpx_sock_find_peer(const struct bpx_sock_state *state,
					      const struct bpx_svc_key *frontend, __u32 svc_id)
{
	int i;

	for (i = 0; i < BPX_SOCK_PEERS; i++) {
		const struct bpx_sock_peer *peer = &state->peer[i];

		if (i >= state->used)
			break;
		if (peer->svc_id == svc_id && peer->frontend_port == frontend->port &&
		    bpx_addr_equal(peer->frontend32, frontend->addr32))
			return i;
	}
	return -1;
}

/* Records the socket's backend for a frontend (in peer `index`, or a free or the oldest
 * one when -1), writing only what changed: a socket that keeps its backend costs reads. */
static __always_inline void bpx_sock_remember(struct bpx_sock_state *state, int index, int sticky,
					      const struct bpx_svc_key *frontend,
					      const struct bpx_svc_value *svc, __u32 backend_id,
					      const struct bpx_backend *backend)
{
	struct bpx_sock_peer *peer;

	if (index < 0) {
		index = state->used < BPX_SOCK_PEERS ? state->used : state->next;
		if (index < 0 || index >= BPX_SOCK_PEERS)
			index = 0;
		if (state->used < BPX_SOCK_PEERS)
			state->used++;
		else
			state->next = (index + 1) % BPX_SOCK_PEERS;
	} else if (index >= BPX_SOCK_PEERS) {
		return;
	}
	peer = &state->peer[index];
	if (!!(state->sticky & (1 << index)) != !!sticky)
		state->sticky ^= 1 << index;
	if (peer->backend_id == backend_id && peer->generation == svc->generation &&
	    peer->svc_id == svc->svc_id && peer->backend_port == backend->port &&
	    peer->frontend_port == frontend->port && bpx_addr_equal(peer->backend32, backend->addr32) &&
	    bpx_addr_equal(peer->frontend32, frontend->addr32))
		return;
	__builtin_memcpy(peer->backend32, backend->addr32, sizeof(peer->backend32));
	__builtin_memcpy(peer->frontend32, frontend->addr32, sizeof(peer->frontend32));
	peer->backend_port = backend->port;
	peer->frontend_port = frontend->port;
	peer->svc_id = svc->svc_id;
	peer->backend_id = backend_id;
	peer->generation = svc->generation;
}

/* Unconnected UDP: the first backend a socket got for a service stays its backend while
 * the service still lists it, so a request and its retries reach one server. */
static __always_inline struct bpx_backend *bpx_sticky_backend(const struct bpx_svc_value *svc,
							      const struct bpx_sock_state *state,
							      int index, __u32 *backend_id)
{
	const struct bpx_sock_peer *chosen;
	struct bpx_backend *backend;

	if (index >= 0 && index < BPX_SOCK_PEERS) {
		chosen = &state->peer[index];
		*backend_id = chosen->backend_id;
		if (chosen->generation == svc->generation)
			backend = bpf_map_lookup_elem(&BPX_MAP_BACKEND, &chosen->backend_id);
		else /* The set changed: keep the backend if it is still in it. */
			backend = bpx_backend_if_listed(svc, chosen->backend_id);
		if (backend)
			return backend;
	}
	return bpx_random_backend(svc, backend_id);
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

/* Looks the frontend up and picks a backend; on success *out holds it and the socket's
 * state records it (reverse translation, UDP stickiness). */
static __always_inline enum bpx_pick bpx_pick_backend(struct bpf_sock_addr *ctx,
						      const struct bpx_svc_key *frontend, int sticky,
						      struct bpx_backend *out)
{
	struct bpx_sock_state *state;
	struct bpx_backend *backend;
	__u32 backend_id = 0;
	struct bpx_svc_value *svc;
	__be32 client[4] = {};
	int nodeport, index = -1, known = 0;

	if (bpx_opted_out()) {
		bpx_count(BPX_STAT_SOCK_BYPASS);
		return BPX_PICK_NOT_A_SERVICE;
	}
	/* A local socket is a pod's or the node's: inside the cluster. */
	svc = bpx_lookup_frontend(frontend, 1, &nodeport);
	if (!svc) {
		if (bpx_is_known_vip(frontend)) {
			bpx_count(BPX_STAT_DROP_NO_PORT);
			return BPX_PICK_REFUSED;
		}
		/* Nothing answers there (a deleted Service, a typo): fail now, not after a
		 * connect timeout, as the TC path does for the same address. */
		if (bpx_in_lpm(BPX_LPM_SERVICE_CIDR, frontend->addr32)) {
			bpx_count(BPX_STAT_DROP_UNALLOCATED);
			return BPX_PICK_REFUSED;
		}
		return BPX_PICK_NOT_A_SERVICE;
	}
	/* A load-balancer address in Proxy mode must reach the load balancer. */
	if (svc->flags & (BPX_SVC_F_WILDCARD | BPX_SVC_F_LB_PROXY))
		return BPX_PICK_NOT_A_SERVICE;
	if (svc->flags & (BPX_SVC_F_AFFINITY | BPX_SVC_F_SOURCE_RANGES))
		known = bpx_sock_client(BPX_NETNS_COOKIE(ctx), bpx_is_v4_mapped(frontend->addr32), client);
	/* An unknown client cannot be shown to be inside the ranges: refused. */
	if ((svc->flags & BPX_SVC_F_SOURCE_RANGES) && !(known && bpx_in_lpm(svc->svc_id, client))) {
		bpx_count(BPX_STAT_DROP_SRC_RANGE);
		return BPX_PICK_REFUSED;
	}
	if (svc->backend_count == 0) {
		bpx_count(BPX_STAT_DROP_NO_BACKEND);
		return BPX_PICK_REFUSED;
	}
	state = BPX_SOCK_STATE(ctx, 1);
	if (state)
		index = bpx_sock_find_peer(state, frontend, svc->svc_id);
	if (svc->flags & BPX_SVC_F_AFFINITY)
		backend = bpx_affinity_backend(svc, client, &backend_id);
	else if (sticky && state)
		backend = bpx_sticky_backend(svc, state, index, &backend_id);
	else
		backend = bpx_random_backend(svc, &backend_id);
	if (!backend) {
		bpx_count(BPX_STAT_DROP_STALE);
		return BPX_PICK_REFUSED;
	}
	__builtin_memcpy(out, backend, sizeof(*out));
	/* Without state (allocation failed) the socket is still translated, only not reversed. */
	if (state)
		bpx_sock_remember(state, index, sticky, frontend, svc, backend_id, backend);
	bpx_count(frontend->proto == BPX_PROTO_UDP    ? BPX_STAT_UDP
		  : frontend->proto == BPX_PROTO_SCTP ? BPX_STAT_SCTP
						      : BPX_STAT_TCP);
	return BPX_PICK_TRANSLATED;
}

/* The hook's verdict for a frontend; BPX_HOOK_TRANSLATE when *backend is to be written
 * into the socket's address. */
#define BPX_HOOK_TRANSLATE 2
static __always_inline int bpx_sock_decide(struct bpf_sock_addr *ctx, const struct bpx_svc_key *frontend,
					   int sendmsg, struct bpx_backend *backend)
{
	switch (bpx_pick_backend(ctx, frontend, sendmsg, backend)) {
	case BPX_PICK_NOT_A_SERVICE:
		return BPX_HOOK_ALLOW;
	case BPX_PICK_REFUSED:
		BPX_REFUSE(ctx);
		return BPX_HOOK_REJECT;
	case BPX_PICK_TRANSLATED:
		break;
	}
	return BPX_HOOK_TRANSLATE;
}

static __always_inline int bpx_sock4_forward(struct bpf_sock_addr *ctx, int sendmsg)
{
	struct bpx_svc_key frontend __attribute__((aligned(8))) = {};
	struct bpx_backend backend __attribute__((aligned(8)));
	__u32 user_port = ctx->user_port;
	int verdict;

	bpx_v4_mapped(frontend.addr32, ctx->user_ip4);
	frontend.port = (__be16)user_port;
	frontend.proto = bpx_sock_proto(ctx);

	verdict = bpx_sock_decide(ctx, &frontend, sendmsg, &backend);
	if (verdict != BPX_HOOK_TRANSLATE)
		return verdict;
	if (!bpx_is_v4_mapped(backend.addr32)) {
		/* An IPv4 socket cannot reach an IPv6 backend. */
		bpx_count(BPX_STAT_DROP_STALE);
		BPX_REFUSE(ctx);
		return BPX_HOOK_REJECT;
	}
	ctx->user_ip4 = backend.addr32[3];
	ctx->user_port = (__u32)backend.port;
	bpx_count(sendmsg ? BPX_STAT_SENDMSG4 : BPX_STAT_CONNECT4);
	return BPX_HOOK_ALLOW;
}

static __always_inline int bpx_sock6_forward(struct bpf_sock_addr *ctx, int sendmsg)
{
	struct bpx_svc_key frontend __attribute__((aligned(8))) = {};
	struct bpx_backend backend __attribute__((aligned(8)));
	__u32 user_port = ctx->user_port;
	int verdict;

	frontend.addr32[0] = ctx->user_ip6[0];
	frontend.addr32[1] = ctx->user_ip6[1];
	frontend.addr32[2] = ctx->user_ip6[2];
	frontend.addr32[3] = ctx->user_ip6[3];
	frontend.port = (__be16)user_port;
	frontend.proto = bpx_sock_proto(ctx);

	verdict = bpx_sock_decide(ctx, &frontend, sendmsg, &backend);
	if (verdict != BPX_HOOK_TRANSLATE)
		return verdict;
	/* A v4-mapped frontend has v4-mapped backends: the socket stays dual-stack. */
	ctx->user_ip6[0] = backend.addr32[0];
	ctx->user_ip6[1] = backend.addr32[1];
	ctx->user_ip6[2] = backend.addr32[2];
	ctx->user_ip6[3] = backend.addr32[3];
	ctx->user_port = (__u32)backend.port;
	bpx_count(sendmsg ? BPX_STAT_SENDMSG6 : BPX_STAT_CONNECT6);
	return BPX_HOOK_ALLOW;
}

/* recvmsg and getpeername: show the application the frontend it asked for. */
static __always_inline const struct bpx_sock_peer *bpx_sock_peer_of(struct bpf_sock_addr *ctx,
								    const __be32 addr32[4])
{
	struct bpx_sock_state *state = BPX_SOCK_STATE(ctx, 0);
	__u32 user_port = ctx->user_port;
	__be16 port = (__be16)user_port;
	int i;

	if (!state)
		return 0;
	for (i = 0; i < BPX_SOCK_PEERS; i++) {
		const struct bpx_sock_peer *peer = &state->peer[i];

		if (i >= state->used)
			break;
		if (peer->backend_port == port && bpx_addr_equal(peer->backend32, addr32))
			return peer;
	}
	return 0;
}

static __always_inline int bpx_sock4_reverse(struct bpf_sock_addr *ctx, __u32 stat)
{
	const struct bpx_sock_peer *peer;
	__be32 addr32[4];

	bpx_v4_mapped(addr32, ctx->user_ip4);
	peer = bpx_sock_peer_of(ctx, addr32);
	if (!peer)
		return BPX_HOOK_ALLOW;
	ctx->user_ip4 = peer->frontend32[3];
	ctx->user_port = (__u32)peer->frontend_port;
	bpx_count(stat);
	return BPX_HOOK_ALLOW;
}

static __always_inline int bpx_sock6_reverse(struct bpf_sock_addr *ctx, __u32 stat)
{
	const struct bpx_sock_peer *peer;
	__be32 addr32[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };

	peer = bpx_sock_peer_of(ctx, addr32);
	if (!peer)
		return BPX_HOOK_ALLOW;
	ctx->user_ip6[0] = peer->frontend32[0];
	ctx->user_ip6[1] = peer->frontend32[1];
	ctx->user_ip6[2] = peer->frontend32[2];
	ctx->user_ip6[3] = peer->frontend32[3];
	ctx->user_port = (__u32)peer->frontend_port;
	bpx_count(stat);
	return BPX_HOOK_ALLOW;
}

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
