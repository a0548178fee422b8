// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* TC programs: the per-packet datapath for what does not come through a local socket's
 * connect() (NodePorts, externalIPs, load-balancer IPs) and for pods that bypass the
 * socket hooks. Attached through tcx links (clsact on older kernels) by loader/tc_loader. */
#include "lib/tc_lb.bpf.h"

#define BPX_TC_PROG(name, call)                 \
	SEC("tc") int name(struct __sk_buff *skb) \
	{                                         \
		return call;                      \
	}

/* Node devices (--devices). */
BPX_TC_PROG(bpx_tc_from_dev, bpx_tc_ingress(skb, BPX_SCOPE_NODE))
BPX_TC_PROG(bpx_tc_to_dev, bpx_tc_egress(skb))
/* Pod-facing devices (--pod-devices): "from" is what the pod sends. */
BPX_TC_PROG(bpx_tc_from_pod, bpx_tc_ingress(skb, BPX_SCOPE_POD))
BPX_TC_PROG(bpx_tc_to_pod, bpx_tc_egress(skb))

char LICENSE[] SEC("license") = "Dual BSD/GPL";
