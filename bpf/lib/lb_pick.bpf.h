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

/*
 * Round-robin's position: rr_next, advanced by one in the same atomic instruction that
 * reads it, so CPUs connecting at once each get their own position (exact rotation).
 * clang 14 emits a fetching add at the default -mcpu only for 64-bit operands, so it adds
 * 1 << 32 to the aligned 8-byte word whose high half is rr_next (table_size, algorithm
 * and pad below it are untouched: no carry reaches them, and the carry out of rr_next
 * is dropped, as a 32-bit counter's wrap). BPF_FETCH needs Linux 5.12; a build with
 * BPX_NO_ATOMIC_FETCH (cmake -DBPFPROXY_BPF_ATOMIC_FETCH=OFF) reads and then adds, for older
 * kernels: CPUs racing may then share a position.
 */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bpx_rr_take adds to rr_next as the high half of a little-endian 64-bit word"
#endif
_Static_assert(__builtin_offsetof(struct bpx_svc_value, rr_next) == BPX_SVC_RR_WORD_OFFSET + 4,
	       "rr_next is the high half of the word at BPX_SVC_RR_WORD_OFFSET");
static __always_inline __u32 bpx_rr_take(struct bpx_svc_value *svc)
{
#ifdef BPX_NO_ATOMIC_FETCH
	__u32 position = svc->rr_next;

	__sync_fetch_and_add(&svc->rr_next, 1);
	return position;
#else
	__u64 *word = (__u64 *)((char *)svc + BPX_SVC_RR_WORD_OFFSET);

	return (__u32)(__sync_fetch_and_add(word, 1ULL << 32) >> 32);
#endif
}

/* Why a new flow got no backend: the callers count it by this, not by the flags again. */
enum bpx_lb_miss {
	BPX_LB_PICKED,	/* it got one */
	BPX_LB_DRAINED,	/* the Service is drained: new flows get none, open ones keep theirs */
	BPX_LB_STALE,	/* a slot or backend entry is missing: the tables are being rewritten */
};

/* The slot a new flow whose hash (bpx_flow_hash) is `hash` gets: its backend id in
 * *backend_id. Only Maglev reads the hash. The callers refuse a Service without backends
 * before they pick, so `count` is zero only while its tables are rewritten. */
static __always_inline enum bpx_lb_miss bpx_lb_slot(const struct bpx_svc_value *svc, __u32 hash,
						    __u32 *backend_id)
{
	__u32 count = svc->table_size ? svc->table_size : svc->backend_count;
	__u32 first = svc->table_size ? svc->backend_count : 0;
	struct bpx_slot_value *slot;
	struct bpx_slot_key key = {
		.svc_id = svc->svc_id,
		.bank = (__u8)(svc->generation & 1),
	};
	__u32 position;

	if (svc->flags & BPX_SVC_F_DRAINED)
		return BPX_LB_DRAINED;
	if (!count)
		return BPX_LB_STALE;
	switch (svc->algorithm) {
	case BPX_LB_MAGLEV:
		position = hash;
		break;
	case BPX_LB_ROUND_ROBIN:
		position = bpx_rr_take((struct bpx_svc_value *)svc); /* svc points into bpx_svc */
		break;
	default:
		position = bpf_get_prandom_u32();
	}
	key.index = (__u16)(first + position % count);
	slot = bpf_map_lookup_elem(&BPX_MAP_SLOT, &key);
	if (!slot)
		return BPX_LB_STALE;
	*backend_id = slot->backend_id;
	return BPX_LB_PICKED;
}

/* The backend entry of a picked id: null, and *miss BPX_LB_STALE, when it is gone. */
static __always_inline struct bpx_backend *bpx_lb_backend(const __u32 *backend_id, enum bpx_lb_miss *miss)
{
	struct bpx_backend *backend = bpf_map_lookup_elem(&BPX_MAP_BACKEND, backend_id);

	*miss = backend ? BPX_LB_PICKED : BPX_LB_STALE;
	return backend;
}

/* The backend for a new flow (see bpx_lb_slot); null when there is none, *miss says why. */
static __always_inline struct bpx_backend *bpx_lb_pick(const struct bpx_svc_value *svc, __u32 hash,
						       __u32 *backend_id, enum bpx_lb_miss *miss)
{
	*miss = bpx_lb_slot(svc, hash, backend_id);
	if (*miss != BPX_LB_PICKED)
		return 0;
	return bpx_lb_backend(backend_id, miss);
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
 * limit). Returns BPX_LB_PICKED with *backend_id set, or why there is no backend. */
__attribute__((noinline)) int bpx_lb_pick_flow(const struct bpx_svc_value *svc, const struct bpx_ct_key *tuple,
						__u32 *backend_id)
{
	if (!svc || !tuple || !backend_id)
		return BPX_LB_STALE;
	return bpx_lb_slot(svc, bpx_lb_tuple_hash(svc, tuple), backend_id);
}

#endif
