/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A socket's own state (bpx_sock_v1, socket-local storage): the frontend each backend it
 * was sent to stands for, so recvmsg and getpeername can show the frontend, and the
 * backend an unconnected UDP socket keeps. The harness overrides BPX_SOCK_STATE.
 */
#ifndef BPFPROXY_SOCK_STATE_BPF_H
#define BPFPROXY_SOCK_STATE_BPF_H

#include "lb_pick.bpf.h"

#ifndef BPX_SOCK_STATE
/* The socket's own state; create: allocate it on first use (zeroed). */
#define BPX_SOCK_STATE(ctx, create) \
	((struct bpx_sock_state *)bpf_sk_storage_get(&BPX_MAP_SOCK, (ctx)->sk, 0, \
						     (create) ? BPF_SK_STORAGE_GET_F_CREATE : 0))
#endif

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
 * the service still lists it, so a request and its retries reach one server. Else a new
 * pick: null when there is none, *miss says why. */
static __always_inline struct bpx_backend *bpx_sticky_backend(const struct bpx_svc_value *svc,
							      const struct bpx_sock_state *state,
							      int index, __u32 hash, __u32 *backend_id,
							      enum bpx_lb_miss *miss)
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
	return bpx_lb_pick(svc, hash, backend_id, miss);
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

#endif
