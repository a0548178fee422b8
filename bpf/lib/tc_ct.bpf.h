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

/* Conntrack keys and values are built here, not on the stack: one call chain of the TC
 * programs must fit in 512 bytes. Per CPU, used within one program run: a flow's entries
 * and what a SNAT port search needs. */
struct bpx_ct_scratch {
	struct bpx_ct_key fwd_key; /* the packet's flow, in bpx_ct_forward */
	struct bpx_ct_key reply_key;
	struct bpx_ct_key old_key; /* a reclaimed port's old forward entry */
	struct bpx_ct_value reply;
	struct bpx_ct_value fwd;
	struct bpf_sock_tuple tuple; /* a local socket lookup */
	__be32 backend[4];
	__be32 snat[4];
	__be16 backend_port;
	__u8 proto;
	__u8 pad;
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

/* TCP's end as seen on one packet of the flow, recorded on its reply entry. */
static __always_inline void bpx_ct_track_close(struct bpx_ct_value *reply, __u8 tcp_flags, int from_client)
{
	__u16 flags = reply->flags;

	if (from_client && (tcp_flags & (BPX_TCP_SYN | BPX_TCP_ACK)) == BPX_TCP_SYN)
		flags &= ~BPX_CT_F_CLOSING; /* a new connection on the same tuple */
	if (tcp_flags & BPX_TCP_RST)
		flags |= BPX_CT_F_RESET;
	if (tcp_flags & BPX_TCP_FIN) {
		if (from_client)
			flags |= BPX_CT_F_FIN_CLIENT;
		else if (!(flags & BPX_CT_F_FIN_CLIENT))
			flags |= BPX_CT_F_FIN_BACKEND | BPX_CT_F_BACKEND_WAIT;
		else
			flags |= BPX_CT_F_FIN_BACKEND;
	}
	if (flags != reply->flags)
		reply->flags = flags;
}

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

/*
 * A SNAT port whose reply entry exists: reusable once its TCP flow is over. A backend
 * that closed first keeps the connection in TIME_WAIT for a minute, and a SYN reusing
 * the port then reaches that TIME_WAIT (accepted when its timestamp is newer, else
 * answered with an ACK the client resets, and the SYN is sent again a second later), so
 * such ports are taken only when `time_wait_ok`: after every other probe failed.
 * Returns 1 when the entry was removed (the old flow's forward entry with it), 0 when
 * the flow is open, -1 when it closed but the backend holds a TIME_WAIT. `fwd_key` is
 * room for the old forward entry's key.
 */
static __always_inline int bpx_ct_reclaim(const struct bpx_ct_key *reply_key, int time_wait_ok,
					  struct bpx_ct_key *fwd_key)
{
	struct bpx_ct_value *old = bpf_map_lookup_elem(&BPX_MAP_CT, reply_key);
	struct bpx_ct_value *fwd;
	__u16 flags;

	if (!old)
		return 1;
	flags = old->flags;
	if (!(flags & BPX_CT_F_RESET) &&
	    (flags & (BPX_CT_F_FIN_CLIENT | BPX_CT_F_FIN_BACKEND)) != (BPX_CT_F_FIN_CLIENT | BPX_CT_F_FIN_BACKEND))
		return 0;
	if (!(flags & BPX_CT_F_RESET) && (flags & BPX_CT_F_BACKEND_WAIT) && !time_wait_ok)
		return -1;
	/* The old flow's forward entry, while it still points at this port. */
	__builtin_memset(fwd_key, 0, sizeof(*fwd_key));
	__builtin_memcpy(fwd_key->src32, old->orig_addr32, 16);
	__builtin_memcpy(fwd_key->dst32, old->nat_addr32, 16);
	fwd_key->sport = old->orig_port;
	fwd_key->dport = old->nat_port;
	fwd_key->proto = reply_key->proto;
	fwd_key->dir = BPX_CT_FORWARD;
	fwd = bpf_map_lookup_elem(&BPX_MAP_CT, fwd_key);
	if (fwd && fwd->nat_port == reply_key->dport && bpx_addr_equal(fwd->nat_addr32, reply_key->dst32))
		bpf_map_delete_elem(&BPX_MAP_CT, fwd_key);
	bpf_map_delete_elem(&BPX_MAP_CT, reply_key);
	return 1;
}

/* One SNAT port search through bpf_loop (its callback is verified once, not per probe). */
struct bpx_snat_probe {
	__u32 start, range, port_min;
	__be16 preferred; /* the client's own source port, network order */
	__be16 port;      /* out: the port taken, network order; 0 none */
	__be16 waiting;   /* a port whose backend holds TIME_WAIT, network order; 0 none */
	__u16 pad;
};

static __always_inline int bpx_snat_try(struct bpx_snat_probe *p, __be16 port, int time_wait_ok)
{
	struct bpx_ct_scratch *s = bpx_scratch();
	int reclaimed;

	if (!s)
		return 0;
	bpx_ct_reply_key(&s->reply_key, s->backend, s->backend_port, s->snat, port, s->proto);
	if (!bpf_map_update_elem(&BPX_MAP_CT, &s->reply_key, &s->reply, BPF_NOEXIST))
		return 1;
	if (s->proto != BPX_PROTO_TCP)
		return 0;
	reclaimed = bpx_ct_reclaim(&s->reply_key, time_wait_ok, &s->old_key);
	if (reclaimed > 0)
		return !bpf_map_update_elem(&BPX_MAP_CT, &s->reply_key, &s->reply, BPF_NOEXIST);
	if (reclaimed < 0 && !p->waiting)
		p->waiting = port;
	return 0;
}

static long bpx_snat_probe_one(__u32 i, void *data)
{
	struct bpx_snat_probe *p = data;
	__be16 port;

	if (!p->range)
		return 1;
	port = bpf_htons(p->port_min + (p->start + i) % p->range);
	if (!bpx_snat_try(p, port, 0))
		return 0;
	p->port = port;
	return 1;
}

/*
 * A port is taken only by inserting its reply entry with BPF_NOEXIST: of two flows racing
 * for one, one wins and the other probes on. The client's own source port first, as
 * netfilter's NAT (kube-proxy's MASQUERADE) keeps it: the backend then sees the tuples the
 * client's kernel chose, which it reuses only with TCP timestamps the backend's TIME_WAIT
 * accepts (Linux draws the timestamp offset per 4-tuple, so a port reused by another
 * client's flow meets PAWS and its SYN is retransmitted). Then BPX_SNAT_PROBES ports of
 * the SNAT range from a hash of the tuple. Ports of closed TCP flows are reclaimed as they
 * are met, those a backend holds in TIME_WAIT only when nothing else was found. The
 * scratch holds the reply entry.
 */
static __always_inline int bpx_snat_claim(struct bpx_snat_probe *p)
{
	if (p->preferred && bpx_snat_try(p, p->preferred, 0)) {
		p->port = p->preferred;
		return 0;
	}
	bpf_loop(BPX_SNAT_PROBES, bpx_snat_probe_one, p, 0);
	if (!p->port && p->waiting && bpx_snat_try(p, p->waiting, 1))
		p->port = p->waiting;
	return p->port ? 0 : -1;
}

/* True when a socket of this node owns the tuple the backend's answers would have with
 * `port` as SNAT port (a connection of its own to the backend, or a listener on the port):
 * then the client's port is not kept, or those answers would be taken from it. */
static __always_inline int bpx_local_socket(struct __sk_buff *skb, struct bpx_ct_scratch *s,
					    const struct bpx_xlate *x, __u8 proto, __be16 port)
{
	struct bpf_sock_tuple *tuple = &s->tuple;
	struct bpf_sock *sk;
	__u32 size;

	__builtin_memset(tuple, 0, sizeof(*tuple));

	if (bpx_is_v4_mapped(x->backend)) {
		tuple->ipv4.saddr = x->backend[3];
		tuple->ipv4.daddr = x->snat[3];
		tuple->ipv4.sport = x->backend_port;
		tuple->ipv4.dport = port;
		size = sizeof(tuple->ipv4);
	} else {
		__builtin_memcpy(tuple->ipv6.saddr, x->backend, 16);
		__builtin_memcpy(tuple->ipv6.daddr, x->snat, 16);
		tuple->ipv6.sport = x->backend_port;
		tuple->ipv6.dport = port;
		size = sizeof(tuple->ipv6);
	}
	if (proto == BPX_PROTO_TCP)
		sk = (struct bpf_sock *)bpf_skc_lookup_tcp(skb, tuple, size, BPF_F_CURRENT_NETNS, 0);
	else if (proto == BPX_PROTO_UDP)
		sk = bpf_sk_lookup_udp(skb, tuple, size, BPF_F_CURRENT_NETNS, 0);
	else
		return 1;
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
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
static __always_inline int bpx_ct_forward(struct __sk_buff *skb, const struct bpx_pkt *pkt,
					  const struct bpx_svc_value *svc,
					  int snat_remote, const __be32 snat[4], struct bpx_xlate *x)
{
	struct bpx_tc_config *config = bpx_config();
	struct bpx_ct_scratch *s = bpx_scratch();
	struct bpx_backend *backend = 0;
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
	/* A new flow: with sessionAffinity ClientIP the client is the packet's source, the
	 * same identity the socket hooks use for a pod. */
	if (svc->flags & BPX_SVC_F_AFFINITY)
		backend = bpx_affinity_backend(svc, pkt->tuple.src32, &backend_id);
	else
		backend = bpx_lb_pick_flow(svc, &pkt->tuple, &backend_id) ?
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
