/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Conntrack for the per-packet datapath. A flow has a forward entry (the packet as the
 * client sent it) recording the backend and the service generation it was checked
 * against, and a reply entry (the packet as the backend answers) recording what to turn
 * the answer back into. Both live in one LRU map: nothing sweeps it; a flow unused for
 * long is evicted when room is needed.
 */
#ifndef BPFPROXY_TC_CT_BPF_H
#define BPFPROXY_TC_CT_BPF_H

#include "tc_packet.bpf.h"
#include "affinity.bpf.h"

/* SNAT ports tried per new flow before giving up. */
#define BPX_SNAT_PROBES 16

/* Conntrack values are built here, not on the stack: one call chain of the TC programs
 * must fit in 512 bytes. Per CPU, used within one program run. */
struct bpx_ct_scratch {
	struct bpx_ct_value reply;
	struct bpx_ct_value fwd;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpx_ct_scratch);
} bpx_ct_scratch SEC(".maps");

static __always_inline struct bpx_ct_scratch *bpx_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&bpx_ct_scratch, &zero);
}

struct bpx_xlate {
	__be32 backend[4];  /* new destination */
	__be16 backend_port;
	__be16 snat_port;   /* new source port when flags & BPX_CT_F_SNAT */
	__be32 snat[4];     /* new source */
	__u16 flags;        /* BPX_CT_F_* */
	__u8 new_flow;
	__u8 repicked;
};

static __always_inline void bpx_ct_reply_key(struct bpx_ct_key *key, const __be32 backend[4],
					     __be16 backend_port, const __be32 peer[4],
					     __be16 peer_port, __u8 proto)
{
	__builtin_memset(key, 0, sizeof(*key));
	__builtin_memcpy(key->src32, backend, 16);
	__builtin_memcpy(key->dst32, peer, 16);
	key->sport = backend_port;
	key->dport = peer_port;
	key->proto = proto;
	key->dir = BPX_CT_REPLY;
}

/* Deterministic start, linear probing: a flow retried after an eviction tends to get its
 * old port back; a port is taken only by inserting its reply entry with BPF_NOEXIST, so
 * two flows can never share (backend, node address, port). */
static __always_inline __u32 bpx_snat_hash(const struct bpx_ct_key *tuple)
{
	__u32 h = tuple->src32[3] ^ tuple->src32[2] ^ tuple->dst32[3] ^
		  ((__u32)tuple->sport << 16 | tuple->dport) ^ tuple->proto;

	h ^= h >> 16;
	h *= 0x7feb352d;
	h ^= h >> 15;
	h *= 0x846ca68b;
	h ^= h >> 16;
	return h;
}

static __always_inline void bpx_ct_reply_value(struct bpx_ct_value *reply,
					       const struct bpx_ct_key *fwd_key, __u16 flags)
{
	__builtin_memset(reply, 0, sizeof(*reply));
	__builtin_memcpy(reply->nat_addr32, fwd_key->dst32, 16);
	reply->nat_port = fwd_key->dport;
	__builtin_memcpy(reply->orig_addr32, fwd_key->src32, 16);
	reply->orig_port = fwd_key->sport;
	reply->flags = flags;
}

/* The LRU may evict a flow's reply entry before its forward entry: put it back. */
static __always_inline void bpx_ct_keep_reply(const struct bpx_ct_key *fwd_key,
					      const struct bpx_xlate *x)
{
	struct bpx_ct_key key __attribute__((aligned(8)));
	struct bpx_ct_scratch *scratch = bpx_scratch();

	if (!scratch)
		return;
	if (x->flags & BPX_CT_F_SNAT)
		bpx_ct_reply_key(&key, x->backend, x->backend_port, x->snat, x->snat_port,
				 fwd_key->proto);
	else
		bpx_ct_reply_key(&key, x->backend, x->backend_port, fwd_key->src32, fwd_key->sport,
				 fwd_key->proto);
	if (bpf_map_lookup_elem(&BPX_MAP_CT, &key))
		return;
	bpx_ct_reply_value(&scratch->reply, fwd_key, x->flags);
	bpf_map_update_elem(&BPX_MAP_CT, &key, &scratch->reply, BPF_ANY);
}

/* Records a new flow: reply entry first (it claims the SNAT port), then forward entry. */
static __always_inline int bpx_ct_create(const struct bpx_ct_key *fwd_key, struct bpx_xlate *x,
					 const struct bpx_svc_value *svc, __u32 backend_id,
					 const struct bpx_tc_config *config)
{
	struct bpx_ct_key reply_key __attribute__((aligned(8)));
	struct bpx_ct_scratch *scratch = bpx_scratch();
	struct bpx_ct_value *reply, *fwd;
	__u32 i, range, start;

	if (!scratch)
		return -1;
	reply = &scratch->reply;
	fwd = &scratch->fwd;
	__builtin_memset(fwd, 0, sizeof(*fwd));
	bpx_ct_reply_value(reply, fwd_key, x->flags);
	if (x->flags & BPX_CT_F_SNAT) {
		if (!config || config->snat_port_max < config->snat_port_min)
			return -1;
		range = config->snat_port_max - config->snat_port_min + 1;
		start = bpx_snat_hash(fwd_key);
		for (i = 0; i < BPX_SNAT_PROBES; i++) {
			x->snat_port = bpf_htons(config->snat_port_min + (start + i) % range);
			bpx_ct_reply_key(&reply_key, x->backend, x->backend_port, x->snat, x->snat_port,
					 fwd_key->proto);
			if (!bpf_map_update_elem(&BPX_MAP_CT, &reply_key, reply, BPF_NOEXIST))
				break;
		}
		if (i == BPX_SNAT_PROBES) {
			bpx_count(BPX_STAT_TC_DROP_SNAT_PORTS);
			return -1;
		}
		__builtin_memcpy(fwd->nat_addr32, x->snat, 16);
		fwd->nat_port = x->snat_port;
	} else {
		bpx_ct_reply_key(&reply_key, x->backend, x->backend_port, fwd_key->src32,
				 fwd_key->sport, fwd_key->proto);
		if (bpf_map_update_elem(&BPX_MAP_CT, &reply_key, reply, BPF_ANY))
			return -1;
	}
	/* The forward entry keeps the backend's address in orig_*: a re-pick must find and
	 * remove the old reply entry even when the backend is gone from bpx_be. */
	__builtin_memcpy(fwd->orig_addr32, x->backend, 16);
	fwd->orig_port = x->backend_port;
	fwd->backend_id = backend_id;
	fwd->svc_id = svc->svc_id;
	fwd->generation = svc->generation;
	fwd->flags = x->flags;
	return bpf_map_update_elem(&BPX_MAP_CT, fwd_key, fwd, BPF_ANY) ? -1 : 0;
}

static __always_inline void bpx_ct_delete_reply(const struct bpx_ct_key *fwd_key,
						const struct bpx_ct_value *fwd)
{
	struct bpx_ct_key key __attribute__((aligned(8)));

	if (fwd->flags & BPX_CT_F_SNAT)
		bpx_ct_reply_key(&key, fwd->orig_addr32, fwd->orig_port, fwd->nat_addr32,
				 fwd->nat_port, fwd_key->proto);
	else
		bpx_ct_reply_key(&key, fwd->orig_addr32, fwd->orig_port, fwd_key->src32,
				 fwd_key->sport, fwd_key->proto);
	bpf_map_delete_elem(&BPX_MAP_CT, &key);
}

/*
 * The translation for a packet of a flow to `svc`: the conntrack entry when its backend
 * is still one of the service's, else a new pick. `snat_remote`: translate the source
 * to `snat` when the backend is not on this node (externalTrafficPolicy Cluster).
 * Returns 0, or -1 to drop (counted).
 */
static __always_inline int bpx_ct_forward(const struct bpx_pkt *pkt, const struct bpx_svc_value *svc,
					  int snat_remote, const __be32 snat[4], struct bpx_xlate *x)
{
	struct bpx_ct_key key __attribute__((aligned(8)));
	struct bpx_tc_config *config = bpx_config();
	struct bpx_backend *backend = 0;
	struct bpx_ct_value *ct;
	__u32 backend_id = 0;

	__builtin_memset(x, 0, sizeof(*x));
	__builtin_memcpy(&key, &pkt->tuple, sizeof(key));
	key.dir = BPX_CT_FORWARD;
	ct = bpf_map_lookup_elem(&BPX_MAP_CT, &key);
	if (ct) {
		if (ct->svc_id == svc->svc_id) {
			if (ct->generation == svc->generation) {
				backend = bpf_map_lookup_elem(&BPX_MAP_BACKEND, &ct->backend_id);
			} else {
				/* The set changed: keep the flow where it is if its backend stayed. */
				backend = bpx_backend_if_listed(svc, ct->backend_id);
				if (backend)
					ct->generation = svc->generation;
			}
		}
		/* Backend ids are reused: the id must still name the backend the flow went to. */
		if (backend && backend->state != BPX_BACKEND_QUARANTINED && backend->port == ct->orig_port &&
		    bpx_addr_equal(backend->addr32, ct->orig_addr32)) {
			__builtin_memcpy(x->backend, ct->orig_addr32, 16);
			x->backend_port = ct->orig_port;
			__builtin_memcpy(x->snat, ct->nat_addr32, 16);
			x->snat_port = ct->nat_port;
			x->flags = ct->flags;
			bpx_ct_keep_reply(&key, x);
			return 0;
		}
		/* Its backend is gone: move the flow to a live one instead of black-holing it. */
		bpx_ct_delete_reply(&key, ct);
		bpf_map_delete_elem(&BPX_MAP_CT, &key);
		bpx_count(BPX_STAT_TC_REPICK);
		x->repicked = 1;
	}
	/* A later fragment never starts a flow: its first fragment did, or was refused. */
	if (pkt->fragment) {
		bpx_count(BPX_STAT_TC_FRAG_MISS);
		return -1;
	}
	/* A new flow: with sessionAffinity ClientIP the client is the packet's source, the
	 * same identity the socket hooks use for a pod. */
	if (svc->flags & BPX_SVC_F_AFFINITY)
		backend = bpx_affinity_backend(svc, pkt->tuple.src32, &backend_id);
	else
		backend = bpx_random_backend(svc, &backend_id);
	if (!backend) {
		bpx_count(BPX_STAT_DROP_STALE);
		return -1;
	}
	if (bpx_is_v4_mapped(backend->addr32) != bpx_is_v4_mapped(pkt->tuple.dst32)) {
		bpx_count(BPX_STAT_DROP_STALE); /* no family translation */
		return -1;
	}
	__builtin_memcpy(x->backend, backend->addr32, 16);
	x->backend_port = backend->port;
	if (bpx_addr_equal(backend->addr32, pkt->tuple.src32)) {
		/* Hairpin: the client is the backend. Without SNAT it would answer itself. */
		x->flags = BPX_CT_F_SNAT | BPX_CT_F_HAIRPIN;
		bpx_count(BPX_STAT_TC_HAIRPIN);
	} else if (snat_remote && !(backend->flags & BPX_BACKEND_F_LOCAL)) {
		x->flags = BPX_CT_F_SNAT;
		bpx_count(BPX_STAT_TC_SNAT);
	}
	if (x->flags & BPX_CT_F_SNAT) {
		if (!snat[0] && !snat[1] && !snat[2] && !snat[3]) {
			bpx_count(BPX_STAT_TC_DROP_SNAT_PORTS); /* no address to SNAT to */
			return -1;
		}
		__builtin_memcpy(x->snat, snat, 16);
	}
	if (bpx_ct_create(&key, x, svc, backend_id, config))
		return -1;
	x->new_flow = 1;
	return 0;
}

#endif
