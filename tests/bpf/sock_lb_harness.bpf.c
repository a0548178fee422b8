// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test-only: the kernel cannot test-run cgroup sock_addr programs, so this XDP program
 * builds a bpf_sock_addr on the stack from the packet, runs the production hook logic on
 * it, and writes the rewritten address and the verdict back into the packet.
 */
#include <linux/bpf.h>
#include <asm-generic/errno.h>
#include <bpf/bpf_helpers.h>
#include "maps_abi.h"

struct harness_ctx {
	struct bpf_sock_addr sock; /* first: the hook logic sees only this */
	__u64 cookie;
	__u64 netns_cookie;
	__s32 retval;
};

/* XDP cannot use socket-local storage: the harness keeps each socket's state in a hash
 * keyed by the cookie the case names, and the hook logic works on it unchanged. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct bpx_sock_state);
} harness_sock_state SEC(".maps");

static __always_inline struct bpx_sock_state *harness_state(void *ctx, int create)
{
	__u64 cookie = ((struct harness_ctx *)ctx)->cookie;
	struct bpx_sock_state *state = bpf_map_lookup_elem(&harness_sock_state, &cookie);
	struct bpx_sock_state fresh = {};

	if (state || !create)
		return state;
	bpf_map_update_elem(&harness_sock_state, &cookie, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&harness_sock_state, &cookie);
}

#define BPX_SOCK_STATE(ctx, create) harness_state(ctx, create)
#define BPX_NETNS_COOKIE(ctx) (((struct harness_ctx *)(ctx))->netns_cookie)
#define BPX_REFUSE(ctx) (((struct harness_ctx *)(ctx))->retval = -ECONNREFUSED)
/* XDP has no current task: the harness runs as the root cgroup, never opted out. */
#define BPX_CGROUP_ID() 0
#define BPX_CGROUP_ANCESTOR(level) 0

#include "lib/sock_lb.bpf.h"
#include "tests/bpf/sock_lb_harness.h"

static __always_inline int run_hook(struct harness_ctx *h, __u32 hook)
{
	switch (hook) {
	case BPX_HARNESS_CONNECT4: return bpx_sock4_forward(&h->sock, 0);
	case BPX_HARNESS_CONNECT6: return bpx_sock6_forward(&h->sock, 0);
	case BPX_HARNESS_SENDMSG4: return bpx_sock4_forward(&h->sock, 1);
	case BPX_HARNESS_SENDMSG6: return bpx_sock6_forward(&h->sock, 1);
	case BPX_HARNESS_RECVMSG4: return bpx_sock4_reverse(&h->sock, BPX_STAT_RECVMSG4);
	case BPX_HARNESS_RECVMSG6: return bpx_sock6_reverse(&h->sock, BPX_STAT_RECVMSG6);
	case BPX_HARNESS_GETPEERNAME4: return bpx_sock4_reverse(&h->sock, BPX_STAT_GETPEERNAME4);
	case BPX_HARNESS_GETPEERNAME6: return bpx_sock6_reverse(&h->sock, BPX_STAT_GETPEERNAME6);
	}
	return -1;
}

SEC("xdp")
int sock_lb_harness(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data;
	void *end = (void *)(long)xdp->data_end;
	struct bpx_harness_case *tc = data;
	struct harness_ctx h = {};
	int i;

	if ((void *)(tc + 1) > end)
		return XDP_ABORTED;
	h.sock.protocol = tc->protocol;
	h.sock.user_ip4 = tc->ip4;
	for (i = 0; i < 4; i++)
		h.sock.user_ip6[i] = tc->ip6[i];
	h.sock.user_port = tc->port;
	h.cookie = tc->cookie;
	h.netns_cookie = tc->netns_cookie;

	tc->verdict = run_hook(&h, tc->hook);
	tc->retval = h.retval;
	tc->ip4 = h.sock.user_ip4;
	for (i = 0; i < 4; i++)
		tc->ip6[i] = h.sock.user_ip6[i];
	tc->port = h.sock.user_port;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
