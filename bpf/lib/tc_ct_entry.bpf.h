/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Conntrack entries for the per-packet datapath. A flow has a forward entry (the packet
 * as the client sent it) recording the backend and the service generation it was checked
 * against, and a reply entry (the packet as the backend answers) recording what to turn
 * the answer back into. Both live in one LRU map: nothing sweeps it; a flow unused for
 * long is evicted when room is needed. Here: the per-CPU scratch, the translation, and
 * how the entries are built, updated on TCP's end, and removed.
 */
#ifndef BPFPROXY_TC_CT_ENTRY_BPF_H
#define BPFPROXY_TC_CT_ENTRY_BPF_H

#include "tc_packet.bpf.h"

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
	__u32 backend_id;   /* the flow's backend (key of bpx_be) */
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

#endif
