/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Conntrack for the per-packet datapath: a packet's flow found (and kept, its backend
 * still the service's) or created with a new pick. The entries are described in
 * tc_ct_entry.bpf.h, the SNAT port search in tc_snat.bpf.h.
 */
#ifndef BPFPROXY_TC_CT_BPF_H
#define BPFPROXY_TC_CT_BPF_H

#include "tc_ct_entry.bpf.h"
#include "tc_snat.bpf.h"
#include "affinity.bpf.h"

/* The flow's reply entry on a forward packet: put back when the LRU evicted it, TCP's end
 * recorded. Returns -1 when the entry now belongs to another flow (its SNAT port was
 * reused after this flow closed, or taken after an eviction): this packet starts anew. */
static __always_inline int bpx_ct_keep_reply(const struct bpx_ct_key *fwd_key,
					     const struct bpx_xlate *x, __u8 tcp_flags)
{
	struct bpx_ct_scratch *s = bpx_scratch();
	struct bpx_ct_value *found;

	if (!s)
		return 0;
	if (x->flags & BPX_CT_F_SNAT)
		bpx_ct_reply_key(&s->reply_key, x->backend, x->backend_port, x->snat, x->snat_port,
				 fwd_key->proto);
	else
		bpx_ct_reply_key(&s->reply_key, x->backend, x->backend_port, fwd_key->src32, fwd_key->sport,
				 fwd_key->proto);
	found = bpf_map_lookup_elem(&BPX_MAP_CT, &s->reply_key);
	if (found) {
		if (found->orig_port != fwd_key->sport || !bpx_addr_equal(found->orig_addr32, fwd_key->src32))
			return -1;
		if (fwd_key->proto == BPX_PROTO_TCP)
			bpx_ct_track_close(found, tcp_flags, 1);
		return 0;
	}
	bpx_ct_reply_value(&s->reply, fwd_key, x->flags);
	if (fwd_key->proto == BPX_PROTO_TCP)
		bpx_ct_track_close(&s->reply, tcp_flags, 1);
	return bpf_map_update_elem(&BPX_MAP_CT, &s->reply_key, &s->reply, BPF_NOEXIST) ? -1 : 0;
}

/* Records a new flow: reply entry first (it claims the SNAT port), then forward entry. */
static __always_inline int bpx_ct_create(struct __sk_buff *skb, const struct bpx_ct_key *fwd_key,
					 struct bpx_xlate *x, const struct bpx_svc_value *svc,
					 __u32 backend_id, const struct bpx_tc_config *config)
{
	struct bpx_ct_scratch *s = bpx_scratch();
	struct bpx_snat_probe probe = {};
	struct bpx_ct_value *fwd;

	if (!s)
		return -1;
	fwd = &s->fwd;
	__builtin_memset(fwd, 0, sizeof(*fwd));
	bpx_ct_reply_value(&s->reply, fwd_key, x->flags);
	if (x->flags & BPX_CT_F_SNAT) {
		if (!config || config->snat_port_max < config->snat_port_min)
			return -1;
		__builtin_memcpy(s->backend, x->backend, 16);
		__builtin_memcpy(s->snat, x->snat, 16);
		s->backend_port = x->backend_port;
		s->proto = fwd_key->proto;
		probe.port_min = config->snat_port_min;
		probe.range = config->snat_port_max - config->snat_port_min + 1;
		probe.start = bpx_snat_hash(fwd_key);
		if (!bpx_local_socket(skb, s, x, fwd_key->proto, fwd_key->sport))
			probe.preferred = fwd_key->sport;
		if (bpx_snat_claim(&probe)) {
			bpx_count(BPX_STAT_TC_DROP_SNAT_PORTS);
			return -1;
		}
		x->snat_port = probe.port;
		__builtin_memcpy(fwd->nat_addr32, x->snat, 16);
		fwd->nat_port = x->snat_port;
	} else {
		bpx_ct_reply_key(&s->reply_key, x->backend, x->backend_port, fwd_key->src32,
				 fwd_key->sport, fwd_key->proto);
		if (bpf_map_update_elem(&BPX_MAP_CT, &s->reply_key, &s->reply, BPF_ANY))
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

/*
 * The translation for a packet of a flow to `svc`: the conntrack entry when its backend
 * is still one of the service's, else a new pick. `snat_remote`: translate the source
 * to `snat` when the backend is not on this node (externalTrafficPolicy Cluster).
 * Returns 0, -1 to drop (counted), or 1 for a new flow to a drained Service (to reject).
 */
static __always_inline int bpx_ct_forward(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					  const struct bpx_svc_value *svc,
					  int snat_remote, const __be32 snat[4], struct bpx_xlate *x)
{
	struct bpx_tc_config *config = bpx_config();
	struct bpx_ct_scratch *s = bpx_scratch();
	struct bpx_backend *backend = 0;
	enum bpx_lb_miss miss; /* drained was refused above: a miss here is stale tables */
	struct bpx_ct_value *ct;
	struct bpx_ct_key *key;
	__u32 backend_id = 0;

	__builtin_memset(x, 0, sizeof(*x));
	if (!s)
		return -1;
	/* In the scratch, not on the stack: the SNAT port search's bpf_loop needs the room. */
	key = &s->fwd_key;
	__builtin_memcpy(key, &pkt->tuple, sizeof(*key));
	key->dir = BPX_CT_FORWARD;
	ct = bpf_map_lookup_elem(&BPX_MAP_CT, key);
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
			x->backend_id = ct->backend_id;
			if (!bpx_ct_keep_reply(key, x, pkt->tcp_flags))
				return 0;
			/* Its SNAT port went to another flow: this one starts anew below. */
			__builtin_memset(x, 0, sizeof(*x));
			bpf_map_delete_elem(&BPX_MAP_CT, key);
			goto pick;
		}
		/* Its backend is gone: move the flow to a live one instead of black-holing it. */
		bpx_ct_delete_reply(key, ct);
		bpf_map_delete_elem(&BPX_MAP_CT, key);
		bpx_count(BPX_STAT_TC_REPICK);
		x->repicked = 1;
	}
pick:
	/* A later fragment never starts a flow: its first fragment did, or was refused. */
	if (pkt->fragment) {
		bpx_count(BPX_STAT_TC_FRAG_MISS);
		return -1;
	}
	if (svc->flags & BPX_SVC_F_DRAINED)
		return 1; /* no new flows: the caller rejects it */
	/* A new flow: with sessionAffinity ClientIP the client is the packet's source, the
	 * same identity the socket hooks use for a pod. */
	if (svc->flags & BPX_SVC_F_AFFINITY)
		backend = bpx_affinity_backend(svc, pkt->tuple.src32, &backend_id, &miss);
	else
		backend = bpx_lb_pick_flow(svc, &pkt->tuple, &backend_id) == BPX_LB_PICKED ?
				  bpf_map_lookup_elem(&BPX_MAP_BACKEND, &backend_id) : 0;
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
	x->backend_id = backend_id;
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
	if (bpx_ct_create(skb, key, x, svc, backend_id, config))
		return -1;
	x->new_flow = 1;
	return 0;
}

#endif
