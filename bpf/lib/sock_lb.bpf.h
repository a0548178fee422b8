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
#include "maps.bpf.h"

#ifndef BPX_SOCKET_COOKIE
#define BPX_SOCKET_COOKIE(ctx) bpf_get_socket_cookie(ctx)
#endif
#ifndef BPX_REFUSE
/* connect() and sendmsg() fail with ECONNREFUSED, like kube-proxy's reject rule. */
#define BPX_REFUSE(ctx) bpf_set_retval(-ECONNREFUSED)
#endif

/* How many slots a UDP socket's old backend is looked for in after the set changed. */
#define BPX_STICKY_SCAN 64

#define BPX_HOOK_ALLOW 1
#define BPX_HOOK_REJECT 0

enum bpx_pick {
	BPX_PICK_NOT_A_SERVICE,
	BPX_PICK_TRANSLATED,
	BPX_PICK_REFUSED,
};

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

static __always_inline __u8 bpx_sock_proto(const struct bpf_sock_addr *ctx)
{
	return ctx->protocol == IPPROTO_UDP ? BPX_PROTO_UDP : BPX_PROTO_TCP;
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

/* Unconnected UDP: the first backend a socket got for a service stays its backend while
 * the service still lists it, so a request and its retries reach one server. */
static __always_inline struct bpx_backend *bpx_sticky_backend(const struct bpx_svc_value *svc,
							      __u64 cookie)
{
	struct bpx_udp_affinity_key key = { .cookie = cookie, .svc_id = svc->svc_id };
	struct bpx_udp_affinity_value *chosen;
	struct bpx_backend *backend;
	__u32 backend_id = 0;
	__u32 i;

	chosen = bpf_map_lookup_elem(&BPX_MAP_UDP_AFFINITY, &key);
	if (chosen && chosen->generation == svc->generation)
		return bpf_map_lookup_elem(&BPX_MAP_BACKEND, &chosen->backend_id);
	if (chosen) {
		/* The set changed: keep the backend if it is still in it. */
		for (i = 0; i < BPX_STICKY_SCAN && i < svc->backend_count; i++) {
			backend = bpx_slot_backend(svc, i, &backend_id);
			if (backend && backend_id == chosen->backend_id) {
				chosen->generation = svc->generation;
				return backend;
			}
		}
	}
	backend = bpx_slot_backend(svc, bpf_get_prandom_u32() % svc->backend_count, &backend_id);
	if (backend) {
		struct bpx_udp_affinity_value value = {
			.backend_id = backend_id,
			.generation = svc->generation,
		};
		bpf_map_update_elem(&BPX_MAP_UDP_AFFINITY, &key, &value, BPF_ANY);
	}
	return backend;
}

/* Looks the frontend up and picks a backend; on success *out holds it and the reverse
 * translation for this socket is recorded. */
static __always_inline enum bpx_pick bpx_pick_backend(const struct bpx_svc_key *frontend,
						      __u64 cookie, int sticky,
						      struct bpx_backend *out)
{
	struct bpx_svc_value *svc = bpf_map_lookup_elem(&BPX_MAP_SVC, frontend);
	struct bpx_backend *backend;
	__u32 backend_id = 0;

	if (!svc) {
		if (bpx_is_known_vip(frontend)) {
			bpx_count(BPX_STAT_DROP_NO_PORT);
			return BPX_PICK_REFUSED;
		}
		return BPX_PICK_NOT_A_SERVICE;
	}
	/* A load-balancer address in Proxy mode must reach the load balancer. */
	if (svc->flags & (BPX_SVC_F_WILDCARD | BPX_SVC_F_LB_PROXY))
		return BPX_PICK_NOT_A_SERVICE;
	if (svc->backend_count == 0) {
		bpx_count(BPX_STAT_DROP_NO_BACKEND);
		return BPX_PICK_REFUSED;
	}
	if (sticky)
		backend = bpx_sticky_backend(svc, cookie);
	else
		backend = bpx_slot_backend(svc, bpf_get_prandom_u32() % svc->backend_count,
					   &backend_id);
	if (!backend) {
		bpx_count(BPX_STAT_DROP_STALE);
		return BPX_PICK_REFUSED;
	}
	__builtin_memcpy(out, backend, sizeof(*out));

	struct bpx_revnat_key rev_key = { .cookie = cookie, .port = backend->port };
	struct bpx_revnat_value rev = { .port = frontend->port, .svc_id = svc->svc_id };

	__builtin_memcpy(rev_key.addr32, backend->addr32, sizeof(rev_key.addr32));
	__builtin_memcpy(rev.addr32, frontend->addr32, sizeof(rev.addr32));
	bpf_map_update_elem(&BPX_MAP_REVNAT, &rev_key, &rev, BPF_ANY);
	bpx_count(frontend->proto == BPX_PROTO_UDP ? BPX_STAT_UDP : BPX_STAT_TCP);
	return BPX_PICK_TRANSLATED;
}

static __always_inline int bpx_sock4_forward(struct bpf_sock_addr *ctx, int sendmsg)
{
	struct bpx_svc_key frontend __attribute__((aligned(8))) = {};
	struct bpx_backend backend __attribute__((aligned(8)));
	__u32 user_port = ctx->user_port;

	bpx_v4_mapped(frontend.addr32, ctx->user_ip4);
	frontend.port = (__be16)user_port;
	frontend.proto = bpx_sock_proto(ctx);

	switch (bpx_pick_backend(&frontend, BPX_SOCKET_COOKIE(ctx), sendmsg, &backend)) {
	case BPX_PICK_NOT_A_SERVICE:
		return BPX_HOOK_ALLOW;
	case BPX_PICK_REFUSED:
		BPX_REFUSE(ctx);
		return BPX_HOOK_REJECT;
	case BPX_PICK_TRANSLATED:
		break;
	}
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

	frontend.addr32[0] = ctx->user_ip6[0];
	frontend.addr32[1] = ctx->user_ip6[1];
	frontend.addr32[2] = ctx->user_ip6[2];
	frontend.addr32[3] = ctx->user_ip6[3];
	frontend.port = (__be16)user_port;
	frontend.proto = bpx_sock_proto(ctx);

	switch (bpx_pick_backend(&frontend, BPX_SOCKET_COOKIE(ctx), sendmsg, &backend)) {
	case BPX_PICK_NOT_A_SERVICE:
		return BPX_HOOK_ALLOW;
	case BPX_PICK_REFUSED:
		BPX_REFUSE(ctx);
		return BPX_HOOK_REJECT;
	case BPX_PICK_TRANSLATED:
		break;
	}
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
static __always_inline struct bpx_revnat_value *bpx_revnat_lookup(struct bpf_sock_addr *ctx,
								  struct bpx_revnat_key *key)
{
	__u32 user_port = ctx->user_port;

	key->cookie = BPX_SOCKET_COOKIE(ctx);
	key->port = (__be16)user_port;
	return bpf_map_lookup_elem(&BPX_MAP_REVNAT, key);
}

static __always_inline int bpx_sock4_reverse(struct bpf_sock_addr *ctx, __u32 stat)
{
	struct bpx_revnat_key key __attribute__((aligned(8))) = {};
	struct bpx_revnat_value *rev;

	bpx_v4_mapped(key.addr32, ctx->user_ip4);
	rev = bpx_revnat_lookup(ctx, &key);
	if (!rev)
		return BPX_HOOK_ALLOW;
	ctx->user_ip4 = rev->addr32[3];
	ctx->user_port = (__u32)rev->port;
	bpx_count(stat);
	return BPX_HOOK_ALLOW;
}

static __always_inline int bpx_sock6_reverse(struct bpf_sock_addr *ctx, __u32 stat)
{
	struct bpx_revnat_key key __attribute__((aligned(8))) = {};
	struct bpx_revnat_value *rev;

	key.addr32[0] = ctx->user_ip6[0];
	key.addr32[1] = ctx->user_ip6[1];
	key.addr32[2] = ctx->user_ip6[2];
	key.addr32[3] = ctx->user_ip6[3];
	rev = bpx_revnat_lookup(ctx, &key);
	if (!rev)
		return BPX_HOOK_ALLOW;
	ctx->user_ip6[0] = rev->addr32[0];
	ctx->user_ip6[1] = rev->addr32[1];
	ctx->user_ip6[2] = rev->addr32[2];
	ctx->user_ip6[3] = rev->addr32[3];
	ctx->user_port = (__u32)rev->port;
	bpx_count(stat);
	return BPX_HOOK_ALLOW;
}

#endif
