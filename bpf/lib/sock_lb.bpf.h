/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-level load balancing: the logic behind the cgroup sock_addr hooks. The kernel
 * cannot test-run those hooks, so everything lives here and takes a struct bpf_sock_addr
 * pointer; tests/bpf/sock_lb_harness.bpf.c drives the same functions from XDP with a
 * context built on the stack.
 * The hook-only helpers go through macros it overrides (here and in sock_state.bpf.h,
 * sock_client.bpf.h); the socket's state, its client and bind protection live in those
 * and sock_bind.bpf.h.
 */
#ifndef BPFPROXY_SOCK_LB_BPF_H
#define BPFPROXY_SOCK_LB_BPF_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <asm-generic/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "affinity.bpf.h"
#include "sock_bind.bpf.h"
#include "sock_client.bpf.h"
#include "sock_state.bpf.h"
#include "svc_stats.bpf.h"

#ifndef BPX_REFUSE
/* connect() and sendmsg() fail with ECONNREFUSED, like kube-proxy's reject rule. */
#define BPX_REFUSE(ctx) bpf_set_retval(-ECONNREFUSED)
#define BPX_REFUSE_BIND(ctx) bpf_set_retval(-EADDRINUSE)
#endif

#define BPX_HOOK_ALLOW 1
#define BPX_HOOK_REJECT 0

enum bpx_pick {
	BPX_PICK_NOT_A_SERVICE,
	BPX_PICK_TRANSLATED,
	BPX_PICK_REFUSED,
};

static __always_inline __u8 bpx_sock_proto(const struct bpf_sock_addr *ctx)
{
	if (ctx->protocol == IPPROTO_UDP)
		return BPX_PROTO_UDP;
	return ctx->protocol == IPPROTO_SCTP ? BPX_PROTO_SCTP : BPX_PROTO_TCP;
}

/* Looks the frontend up and picks a backend; on success *out holds it and the socket's
 * state records it (reverse translation, UDP stickiness). */
static __always_inline enum bpx_pick bpx_pick_backend(struct bpf_sock_addr *ctx,
						      const struct bpx_svc_key *frontend, int sticky,
						      struct bpx_backend *out)
{
	struct bpx_sock_state *state;
	struct bpx_backend *backend;
	enum bpx_lb_miss miss;
	__u32 backend_id = 0;
	struct bpx_svc_value *svc;
	__be32 client[4] = {};
	__u32 hash = 0;
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
	if ((svc->flags & (BPX_SVC_F_AFFINITY | BPX_SVC_F_SOURCE_RANGES)) || svc->algorithm == BPX_LB_MAGLEV)
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
	/* Drained: a connect() is a new flow, refused even when its client has an affinity
	 * entry. An unconnected UDP socket keeps the backend it has (below); the pick refuses
	 * it a new one (bpx_lb_slot says BPX_LB_DRAINED). */
	if (!sticky && (svc->flags & BPX_SVC_F_DRAINED)) {
		bpx_count(BPX_STAT_DROP_DRAINED);
		return BPX_PICK_REFUSED;
	}
	state = BPX_SOCK_STATE(ctx, 1);
	if (state)
		index = bpx_sock_find_peer(state, frontend, svc->svc_id);
	/* Maglev: the client and the Service port (the source port is not chosen yet). */
	if (svc->algorithm == BPX_LB_MAGLEV)
		hash = bpx_flow_hash(client, frontend->addr32, 0, frontend->port, frontend->proto);
	if (svc->flags & BPX_SVC_F_AFFINITY)
		backend = bpx_affinity_backend(svc, client, &backend_id, &miss);
	else if (sticky && state)
		backend = bpx_sticky_backend(svc, state, index, hash, &backend_id, &miss);
	else
		backend = bpx_lb_pick(svc, hash, &backend_id, &miss);
	if (!backend) {
		bpx_count(miss == BPX_LB_DRAINED ? BPX_STAT_DROP_DRAINED : BPX_STAT_DROP_STALE);
		return BPX_PICK_REFUSED;
	}
	__builtin_memcpy(out, backend, sizeof(*out));
	/* Opted-in Services: a connect(), or a sendmsg() given a backend its socket did not
	 * have for this frontend, is a new connection (read before the peer is remembered). */
	if ((svc->flags & BPX_SVC_F_METRICS) &&
	    !(sticky && state && index >= 0 && index < BPX_SOCK_PEERS && state->peer[index].backend_id == backend_id))
		bpx_svc_stats_add(svc->svc_id, backend_id, BPX_SVC_STATS_SOCKET, 1, 0);
	/* Without state (allocation failed) the socket is still translated, only not reversed. */
	if (state)
		bpx_sock_remember(state, index, sticky, frontend, svc, backend_id, backend);
	bpx_count(frontend->proto == BPX_PROTO_UDP    ? BPX_STAT_UDP
		  : frontend->proto == BPX_PROTO_SCTP ? BPX_STAT_SCTP
						      : BPX_STAT_TCP);
	return BPX_PICK_TRANSLATED;
}

/* The hook's verdict for the frontend the socket asks for (its address in frontend->addr32;
 * the port and protocol are the socket's); BPX_HOOK_TRANSLATE when *backend is to be
 * written into the socket's address. */
#define BPX_HOOK_TRANSLATE 2
static __always_inline int bpx_sock_decide(struct bpf_sock_addr *ctx, struct bpx_svc_key *frontend,
					   int sendmsg, struct bpx_backend *backend)
{
	__u32 user_port = ctx->user_port;

	frontend->port = (__be16)user_port;
	frontend->proto = bpx_sock_proto(ctx);
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
	int verdict;

	bpx_v4_mapped(frontend.addr32, ctx->user_ip4);
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
	int verdict;

	frontend.addr32[0] = ctx->user_ip6[0];
	frontend.addr32[1] = ctx->user_ip6[1];
	frontend.addr32[2] = ctx->user_ip6[2];
	frontend.addr32[3] = ctx->user_ip6[3];
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

#endif
