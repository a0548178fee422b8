/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Test-only: one socket-hook call, carried in and out of the XDP harness as packet data. */
#ifndef BPFPROXY_SOCK_LB_HARNESS_H
#define BPFPROXY_SOCK_LB_HARNESS_H

#include <linux/types.h>

#define BPX_HARNESS_CONNECT4 1
#define BPX_HARNESS_CONNECT6 2
#define BPX_HARNESS_SENDMSG4 3
#define BPX_HARNESS_SENDMSG6 4
#define BPX_HARNESS_RECVMSG4 5
#define BPX_HARNESS_RECVMSG6 6
#define BPX_HARNESS_GETPEERNAME4 7
#define BPX_HARNESS_GETPEERNAME6 8

struct bpx_harness_case {
	__u32 hook;     /* BPX_HARNESS_* */
	__u32 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	__u64 cookie;   /* the socket's cookie */
	__u32 ip4;      /* in/out; network order */
	__u32 ip6[4];   /* in/out; network order */
	__u32 port;     /* in/out; network-order port in the low 16 bits, as user_port */
	__s32 verdict;  /* out: the hook's return value (1 allow, 0 reject) */
	__s32 retval;   /* out: the errno the hook set for the syscall, 0 if none */
	__u32 pad;
	__u64 netns_cookie; /* the client's network namespace (sessionAffinity ClientIP) */
};

#endif
