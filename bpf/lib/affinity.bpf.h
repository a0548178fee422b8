/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sessionAffinity ClientIP, one table for both paths: a client is an address (see
 * bpx_client_affinity_key), so a pod keeps its backend whether its next flow goes through
 * the socket hooks or the TC programs.
 */
#ifndef BPFPROXY_AFFINITY_BPF_H
#define BPFPROXY_AFFINITY_BPF_H

#include "lb_pick.bpf.h"

/* The backend id `key->client` last got from `svc` (key->svc_id), while it keeps coming
 * back within the timeout and the Service still lists it; else a new pick, remembered.
 * Returns BPX_LB_PICKED with *backend_id set, or why the Service has no backend to give
 * (see bpx_lb_slot). A global function: verified once, not at each of its call sites in
 * the TC programs. */
__attribute__((noinline)) int bpx_affinity_pick(const struct bpx_client_affinity_key *key,
						 const struct bpx_svc_value *svc, __u32 *backend_id)
{
	struct bpx_client_affinity_value *chosen;
	struct bpx_backend *backend = 0;
	__u64 now = bpf_ktime_get_ns();
	enum bpx_lb_miss miss;
	__u32 picked = 0;

	if (!key || !svc || !backend_id)
		return BPX_LB_STALE;
	chosen = bpf_map_lookup_elem(&BPX_MAP_CLIENT_AFFINITY, key);
	if (chosen && now - chosen->last_used_ns <= (__u64)svc->affinity_timeout * 1000000000ULL) {
		if (chosen->generation == svc->generation)
			backend = bpf_map_lookup_elem(&BPX_MAP_BACKEND, &chosen->backend_id);
		else
			backend = bpx_backend_if_listed(svc, chosen->backend_id);
		if (backend) {
			*backend_id = chosen->backend_id;
			chosen->generation = svc->generation;
			chosen->last_used_ns = now;
			return BPX_LB_PICKED;
		}
	}
	if (!bpx_lb_pick(svc, bpx_flow_hash(key->client32, key->client32, 0, 0, 0), &picked, &miss))
		return miss;
	struct bpx_client_affinity_value value = {
		.backend_id = picked,
		.generation = svc->generation,
		.last_used_ns = now,
	};
	bpf_map_update_elem(&BPX_MAP_CLIENT_AFFINITY, key, &value, BPF_ANY);
	*backend_id = picked;
	return BPX_LB_PICKED;
}

/* The backend for `client` (see bpx_affinity_pick); null when there is none, *miss says why. */
static __always_inline struct bpx_backend *bpx_affinity_backend(const struct bpx_svc_value *svc,
								const __be32 client[4], __u32 *backend_id,
								enum bpx_lb_miss *miss)
{
	struct bpx_client_affinity_key key __attribute__((aligned(8))) = { .svc_id = svc->svc_id };
	__u32 id = 0;

	__builtin_memcpy(key.client32, client, 16);
	*miss = bpx_affinity_pick(&key, svc, &id);
	if (*miss != BPX_LB_PICKED)
		return 0;
	*backend_id = id;
	return bpx_lb_backend(&id, miss);
}

#endif
