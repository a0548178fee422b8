// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cgroup socket hooks: a ClusterIP becomes a backend when a socket connects or sends. */
#include "lib/sock_lb.bpf.h"

SEC("cgroup/connect4")
int bpx_connect4(struct bpf_sock_addr *ctx)
{
	return bpx_sock4_forward(ctx, 0);
}

SEC("cgroup/connect6")
int bpx_connect6(struct bpf_sock_addr *ctx)
{
	return bpx_sock6_forward(ctx, 0);
}

SEC("cgroup/sendmsg4")
int bpx_sendmsg4(struct bpf_sock_addr *ctx)
{
	return bpx_sock4_forward(ctx, 1);
}

SEC("cgroup/sendmsg6")
int bpx_sendmsg6(struct bpf_sock_addr *ctx)
{
	return bpx_sock6_forward(ctx, 1);
}

SEC("cgroup/recvmsg4")
int bpx_recvmsg4(struct bpf_sock_addr *ctx)
{
	return bpx_sock4_reverse(ctx, BPX_STAT_RECVMSG4);
}

SEC("cgroup/recvmsg6")
int bpx_recvmsg6(struct bpf_sock_addr *ctx)
{
	return bpx_sock6_reverse(ctx, BPX_STAT_RECVMSG6);
}

SEC("cgroup/getpeername4")
int bpx_getpeer4(struct bpf_sock_addr *ctx)
{
	return bpx_sock4_reverse(ctx, BPX_STAT_GETPEERNAME4);
}

SEC("cgroup/getpeername6")
int bpx_getpeer6(struct bpf_sock_addr *ctx)
{
	return bpx_sock6_reverse(ctx, BPX_STAT_GETPEERNAME6);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
