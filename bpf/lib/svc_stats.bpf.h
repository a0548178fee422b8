/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-Service, per-backend traffic for the frontends flagged BPX_SVC_F_METRICS (see
 * struct bpx_svc_stats_key): the callers test the flag, so the other Services pay one
 * flag test and no lookup.
 */
#ifndef BPFPROXY_SVC_STATS_BPF_H
#define BPFPROXY_SVC_STATS_BPF_H

#include "maps.bpf.h"

/* Adds one connection when `new_flow`, and on the TC path one packet of `bytes`. A global
 * function: verified once, its frame off the TC programs' nearly full stack. */
__attribute__((noinline)) int bpx_svc_stats_add(__u32 svc_id, __u32 backend_id, __u32 path, __u32 new_flow,
						 __u32 bytes)
{
	struct bpx_svc_stats_key key = {
		.svc_id = svc_id,
		.backend_id = backend_id,
		.path = (__u8)path,
	};
	struct bpx_svc_stats *stats = bpf_map_lookup_elem(&BPX_MAP_SVC_STATS, &key);
	struct bpx_svc_stats first = {};
	__u64 packets = path == BPX_SVC_STATS_TC;

	if (!stats) {
		first.connections = new_flow ? 1 : 0;
		first.packets = packets;
		first.bytes = packets ? bytes : 0;
		/* Another CPU may have made the entry meanwhile: then add to it below. */
		if (!bpf_map_update_elem(&BPX_MAP_SVC_STATS, &key, &first, BPF_NOEXIST))
			return 0;
		stats = bpf_map_lookup_elem(&BPX_MAP_SVC_STATS, &key);
		if (!stats)
			return 0; /* the map is full: not counted */
	}
	if (new_flow)
		stats->connections++;
	if (packets) {
		stats->packets++;
		stats->bytes += bytes;
	}
	return 0;
}

#endif
