// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Stale sockets: a socket connected to a backend that no frontend lists any more (its pod
 * went away) would talk to nobody; a DNS resolver keeping a connected UDP socket never
 * notices. The agent fills bpx_destroy with those backends and runs these iterators in
 * every network namespace of the node (an iterator sees only the sockets of the namespace
 * it was created in); each matching socket is destroyed (bpf_sock_destroy, Linux 6.5+),
 * so the application gets an error and connects again, through the socket hooks, to a
 * live backend. One record (the socket's cookie) is written per socket destroyed.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps_abi.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_TIME_WAIT 6
#define TCP_NEW_SYN_RECV 12

/* The kernel types used, matched against the running kernel's by CO-RE. */
struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));
struct in6_addr___bpx {
	union {
		__be32 u6_addr32[4];
	} in6_u;
} __attribute__((preserve_access_index));
struct sock_common {
	unsigned short skc_family;
	unsigned char skc_state;
	__be32 skc_daddr;
	__be16 skc_dport;
	struct in6_addr___bpx skc_v6_daddr;
} __attribute__((preserve_access_index));
struct udp_sock;
struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
} __attribute__((preserve_access_index));
struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} __attribute__((preserve_access_index));

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

/* The removed backends: address (v4-mapped for IPv4), port, protocol; value unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct bpx_svc_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} bpx_destroy SEC(".maps");

static __always_inline void destroy_if_stale(struct bpf_iter_meta *meta, struct sock_common *sk, __u8 proto)
{
	struct bpx_svc_key peer __attribute__((aligned(8))) = {};
	__u64 cookie;

	if (sk->skc_family == AF_INET) {
		peer.addr32[2] = bpf_htonl(0x0000ffff);
		peer.addr32[3] = sk->skc_daddr;
	} else if (sk->skc_family == AF_INET6) {
		peer.addr32[0] = sk->skc_v6_daddr.in6_u.u6_addr32[0];
		peer.addr32[1] = sk->skc_v6_daddr.in6_u.u6_addr32[1];
		peer.addr32[2] = sk->skc_v6_daddr.in6_u.u6_addr32[2];
		peer.addr32[3] = sk->skc_v6_daddr.in6_u.u6_addr32[3];
	} else {
		return;
	}
	peer.port = sk->skc_dport;
	peer.proto = proto;
	if (!peer.port || !bpf_map_lookup_elem(&bpx_destroy, &peer))
		return;
	cookie = bpf_get_socket_cookie(sk);
	if (bpf_sock_destroy(sk) == 0)
		bpf_seq_write(meta->seq, &cookie, sizeof(cookie));
}

SEC("iter/udp")
int bpx_destroy_udp(struct bpf_iter__udp *ctx)
{
	struct sock_common *sk = (struct sock_common *)ctx->udp_sk;

	if (sk)
		destroy_if_stale(ctx->meta, sk, BPX_PROTO_UDP);
	return 0;
}

SEC("iter/tcp")
int bpx_destroy_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *sk = ctx->sk_common;

	/* Only full sockets: time-wait and request sockets have nothing to abort. */
	if (sk && sk->skc_state != TCP_TIME_WAIT && sk->skc_state != TCP_NEW_SYN_RECV)
		destroy_if_stale(ctx->meta, sk, BPX_PROTO_TCP);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
