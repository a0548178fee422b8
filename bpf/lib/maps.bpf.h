/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map, defined once. Sizes are defaults; the loader sets them from flags. */
#ifndef BPFPROXY_MAPS_BPF_H
#define BPFPROXY_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "maps_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpx_layout);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_LAYOUT SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPX_DEFAULT_SERVICE_PORTS);
	__type(key, struct bpx_svc_key);
	__type(value, struct bpx_svc_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_SVC SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPX_DEFAULT_BACKENDS * BPX_SLOTS_PER_BACKEND);
	__type(key, struct bpx_slot_key);
	__type(value, struct bpx_slot_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_SLOT SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPX_DEFAULT_BACKENDS);
	__type(key, __u32);
	__type(value, struct bpx_backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_BACKEND SEC(".maps");

/* Socket-local storage: no size, freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct bpx_sock_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_SOCK SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BPX_DEFAULT_CLIENT_AFFINITY);
	__type(key, struct bpx_client_affinity_key);
	__type(value, struct bpx_client_affinity_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_CLIENT_AFFINITY SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPX_DEFAULT_SERVICE_PORTS);
	__type(key, __u32);
	__type(value, struct bpx_svc_meta);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_SVC_META SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BPX_STAT_COUNT);
	__type(key, __u32);
	__type(value, struct bpx_stat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_STATS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BPX_DEFAULT_CONNTRACK * 2);
	__type(key, struct bpx_ct_key);
	__type(value, struct bpx_ct_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_CT SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPX_DEFAULT_NODE_ADDRS);
	__type(key, struct bpx_svc_key); /* the address; port, proto, pad zero */
	__type(value, struct bpx_node_addr);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_NODE_ADDR SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BPX_DEFAULT_LPM);
	__type(key, struct bpx_lpm_key);
	__type(value, struct bpx_lpm_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_LPM SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpx_tc_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_TC_CONFIG SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPX_DEFAULT_TC_PODS);
	__type(key, struct bpx_svc_key); /* the pod's address; port, proto, pad zero */
	__type(value, struct bpx_tc_pod);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_TC_POD SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPX_DEFAULT_TC_PODS);
	__type(key, __u64); /* netns cookie */
	__type(value, struct bpx_netns_addr);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_NETNS_ADDR SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPX_DEFAULT_TC_PODS);
	__type(key, __u64); /* cgroup id */
	__type(value, struct bpx_optout);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_SOCK_OPTOUT SEC(".maps");

/* Written by the agent only; defined here so that it is created and pinned with the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpx_generation);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_GENERATION SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BPX_DEFAULT_FRAGMENTS);
	__type(key, struct bpx_frag_key);
	__type(value, struct bpx_frag_ports);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_FRAG SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, BPX_DEFAULT_SVC_STATS);
	__type(key, struct bpx_svc_stats_key);
	__type(value, struct bpx_svc_stats);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BPX_MAP_SVC_STATS SEC(".maps");

static __always_inline struct bpx_tc_config *bpx_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&BPX_MAP_TC_CONFIG, &zero);
}

static __always_inline void bpx_count(__u32 index)
{
	struct bpx_stat *stat = bpf_map_lookup_elem(&BPX_MAP_STATS, &index);

	if (stat)
		stat->count++;
}

#endif
