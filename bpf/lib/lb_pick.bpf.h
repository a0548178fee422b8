/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How a new flow picks its backend, the same on both paths: the Service's algorithm
 * (bpx_svc_value.algorithm) chooses a position in its lookup table (the slots after the
 * backends: Maglev's table, or backends repeated by weight) or, without a table, among
 * the backends. Two map lookups after the frontend's: the slot, then the backend.
 */
#ifndef BPFPROXY_LB_PICK_BPF_H
#define BPFPROXY_LB_PICK_BPF_H

#include "lb_lookup.bpf.h"

/* The slot a new flow whose hash (bpx_flow_hash) is `hash` gets: its backend id in
 * *backend_id; 0 when there is none. Only Maglev reads the hash. */
static __always_inline int bpx_lb_slot(const struct bpx_svc_value *svc, __u32 hash, __u32 *backend_id)
{
	__u32 count = svc->table_size ? svc->table_size : svc->backend_count;
	__u32 first = svc->table_size ? svc->backend_count : 0;
	struct bpx_slot_value *slot;
	struct bpx_slot_key key = {
		.svc_id = svc->svc_id,
		.bank = (__u8)(svc->generation & 1),
	};
	__u32 *next;
	__u32 position;

	if (!svc->backend_count || !count)
		return 0;
	switch (svc->algorithm) {
	case BPX_LB_MAGLEV:
		position = hash;
		break;
	case BPX_LB_ROUND_ROBIN:
		/* svc points into bpx_svc. Read, then add without fetching (clang 14 emits the
		 * fetching add only for -mcpu=v3): CPUs racing may share a position. */
		next = (__u32 *)&svc->rr_next;
		position = *next;
		__sync_fetch_and_add(next, 1);
		break;
	default:
		position = bpf_get_prandom_u32();
	}
	key.index = (__u16)(first + position % count);
	slot = bpf_map_lookup_elem(&BPX_MAP_SLOT, &key);
	if (!slot)
		return 0;
	*backend_id = slot->backend_id;
	return 1;
}

/* The backend for a new flow (see bpx_lb_slot); null when there is none. */
static __always_inline struct bpx_backend *bpx_lb_pick(const struct bpx_svc_value *svc, __u32 hash,
						       __u32 *backend_id)
{
	if (!bpx_lb_slot(svc, hash, backend_id))
		return 0;
	return bpf_map_lookup_elem(&BPX_MAP_BACKEND, backend_id);
}

/* The TC path's flow hash: the 5-tuple as the client sent it (only Maglev needs one). */
static __always_inline __u32 bpx_lb_tuple_hash(const struct bpx_svc_value *svc,
					       const struct bpx_ct_key *tuple)
{
	if (svc->algorithm != BPX_LB_MAGLEV)
		return 0;
	return bpx_flow_hash(tuple->src32, tuple->dst32, tuple->sport, tuple->dport, tuple->proto);
}

/* The TC path's pick for a new flow: a global function, verified once, whose hashing
 * stays off the caller's stack (the TC programs' combined stack is near the 512-byte
 * limit). Returns 1 with *backend_id set, 0 when there is no backend. */
__attribute__((noinline)) int bpx_lb_pick_flow(const struct bpx_svc_value *svc, const struct bpx_ct_key *tuple,
						__u32 *backend_id)
{
	if (!svc || !tuple || !backend_id)
		return 0;
	return bpx_lb_slot(svc, bpx_lb_tuple_hash(svc, tuple), backend_id);
}

#endif
