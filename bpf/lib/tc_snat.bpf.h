/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SNAT port search for a new flow: a port is the reply entry (backend, node address,
 * port) inserted with BPF_NOEXIST; ports of closed TCP flows are reclaimed on the way.
 */
#ifndef BPFPROXY_TC_SNAT_BPF_H
#define BPFPROXY_TC_SNAT_BPF_H

#include "tc_ct_entry.bpf.h"

/* SNAT ports tried per new flow before giving up. */
#define BPX_SNAT_PROBES 16

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

#endif
