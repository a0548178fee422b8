// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cgroup socket hooks: a ClusterIP becomes a backend when a socket connects or sends. */
#include "lib/sock_lb.bpf.h"

/* Each hook is one call into lib/sock_lb.bpf.h, where the harness drives the same code. */
#define BPX_SOCK_HOOK(section, name, call)          \
	SEC(section) int name(struct bpf_sock_addr *ctx) \
	{                                                \
		return call;                             \
	}

BPX_SOCK_HOOK("cgroup/connect4", bpx_connect4, bpx_sock4_forward(ctx, 0))
BPX_SOCK_HOOK("cgroup/connect6", bpx_connect6, bpx_sock6_forward(ctx, 0))
BPX_SOCK_HOOK("cgroup/sendmsg4", bpx_sendmsg4, bpx_sock4_forward(ctx, 1))
BPX_SOCK_HOOK("cgroup/sendmsg6", bpx_sendmsg6, bpx_sock6_forward(ctx, 1))
BPX_SOCK_HOOK("cgroup/recvmsg4", bpx_recvmsg4, bpx_sock4_reverse(ctx, BPX_STAT_RECVMSG4))
BPX_SOCK_HOOK("cgroup/recvmsg6", bpx_recvmsg6, bpx_sock6_reverse(ctx, BPX_STAT_RECVMSG6))
BPX_SOCK_HOOK("cgroup/getpeername4", bpx_getpeer4, bpx_sock4_reverse(ctx, BPX_STAT_GETPEERNAME4))
BPX_SOCK_HOOK("cgroup/getpeername6", bpx_getpeer6, bpx_sock6_reverse(ctx, BPX_STAT_GETPEERNAME6))

/* Bind protection: a bind shadowing a NodePort fails with EADDRINUSE. */
static __always_inline int bpx_postbind(struct bpf_sock *ctx, const __be32 addr32[4], int v6)
{
	struct bpx_tc_config *config = bpx_config();

	/* Only binds in the node's own namespace shadow a NodePort; a pod's are its own. */
	if (config && config->node_netns_cookie && bpf_get_netns_cookie(ctx) != config->node_netns_cookie)
		return BPX_HOOK_ALLOW;
	if (bpx_bind_allowed(addr32, ctx->src_port, ctx->protocol, v6))
		return BPX_HOOK_ALLOW;
	bpx_count(BPX_STAT_BIND_REFUSED);
	BPX_REFUSE_BIND(ctx);
	return BPX_HOOK_REJECT;
}

SEC("cgroup/post_bind4")
int bpx_postbind4(struct bpf_sock *ctx)
{
	__be32 addr32[4];

	bpx_v4_mapped(addr32, ctx->src_ip4);
	return bpx_postbind(ctx, addr32, 0);
}

SEC("cgroup/post_bind6")
int bpx_postbind6(struct bpf_sock *ctx)
{
	__be32 addr32[4] = { ctx->src_ip6[0], ctx->src_ip6[1], ctx->src_ip6[2], ctx->src_ip6[3] };

	return bpx_postbind(ctx, addr32, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
