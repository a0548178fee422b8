/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The map contract between the BPF programs and the C++ side. Both compilers include
 * this header and nothing else defines these structs. Rules:
 *  - fixed-width kernel types only, padding written out, sizes pinned by static asserts;
 *  - every address is 16 bytes: IPv4 is stored v4-mapped (::ffff:a.b.c.d), which makes
 *    one map serve both families and makes connect6 with a v4-mapped address free;
 *  - change a field's meaning or layout: bump BPX_LAYOUT_VERSION and the _vN map names,
 *    and add a converter from the old name in loader/map_converters.cpp: an agent upgrades
 *    the pinned maps in place with it, and refuses an older pin it cannot convert.
 */
#ifndef BPFPROXY_MAPS_ABI_H
#define BPFPROXY_MAPS_ABI_H

#include <linux/types.h>

#ifdef __cplusplus
#define BPX_ASSERT_SIZE(type, size) static_assert(sizeof(type) == (size), #type " size")
#else
#define BPX_ASSERT_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " size")
#endif

#define BPX_LAYOUT_VERSION 2 /* 2: bpx_svc_v3 (the load-balancing algorithm and its table) */
#define BPX_LAYOUT_MAGIC 0x62707831 /* "bpx1" */

/* Map names: the kernel keeps 15 characters. */
#define BPX_MAP_LAYOUT bpx_layout_v1
#define BPX_MAP_SVC bpx_svc_v3 /* v2: the key's last byte is the scope; v3: algorithm, table_size, rr_next */
#define BPX_MAP_SLOT bpx_slot_v1
#define BPX_MAP_BACKEND bpx_be_v1
/* Socket-local storage (replaces bpx_revnat_v1 and bpx_udpaff_v1, global LRUs keyed by
 * socket cookie that every new socket evicted from). */
#define BPX_MAP_SOCK bpx_sock_v1
#define BPX_MAP_CLIENT_AFFINITY bpx_affinity_v2
#define BPX_MAP_SVC_META bpx_meta_v1
#define BPX_MAP_STATS bpx_stats_v1
/* Per-packet (TC) datapath and socket-hook opt-out; see docs/datapath-tc.md. */
#define BPX_MAP_CT bpx_ct_v1
#define BPX_MAP_NODE_ADDR bpx_nodeaddr_v1
#define BPX_MAP_LPM bpx_lpm_v1
#define BPX_MAP_TC_CONFIG bpx_tccfg_v1
#define BPX_MAP_TC_POD bpx_tcpod_v1
#define BPX_MAP_SOCK_OPTOUT bpx_optout_v1
#define BPX_MAP_GENERATION bpx_gen_v1
#define BPX_MAP_NETNS_ADDR bpx_nsaddr_v1
#define BPX_MAP_FRAG bpx_frag_v1
#define BPX_MAP_SVC_STATS bpx_svcstat_v1 /* per-Service, per-backend traffic (bpfproxy.io/metrics) */

#define BPX_STRINGIFY_(x) #x
#define BPX_STRINGIFY(x) BPX_STRINGIFY_(x)

/* Default sizes; the loader overrides them from flags before load. */
#define BPX_DEFAULT_SERVICE_PORTS 65536
#define BPX_DEFAULT_BACKENDS 262144
#define BPX_DEFAULT_CLIENT_AFFINITY 8192 /* sessionAffinity ClientIP entries (client, service); LRU, preallocated */
#define BPX_DEFAULT_CONNTRACK 65536 /* flows; two entries each (forward and reply) */
#define BPX_DEFAULT_NODE_ADDRS 256
#define BPX_DEFAULT_LPM 16384
#define BPX_DEFAULT_TC_PODS 4096
#define BPX_DEFAULT_FRAGMENTS 8192 /* fragmented datagrams in flight */
/* (frontend, backend, path) counters of the Services with BPX_SVC_F_METRICS; not
 * preallocated, so only the opted-in Services' backends use memory. */
#define BPX_DEFAULT_SVC_STATS 65536
/* Slots hold two banks per service (see bpx_slot_key), so twice the backends. */
#define BPX_SLOTS_PER_BACKEND 2
#define BPX_MAX_BACKENDS_PER_SERVICE 65535

/* bpx_svc_key.proto: IANA protocol numbers. */
#define BPX_PROTO_TCP 6
#define BPX_PROTO_UDP 17
#define BPX_PROTO_SCTP 132
/* A key with port 0 and proto 0 marks an address as a known ClusterIP, so that ports it
 * does not define are refused instead of leaving the node. */
#define BPX_PROTO_ANY 0

/* bpx_svc_key.scope: who the entry serves. An externalTrafficPolicy Local frontend
 * (NodePort, externalIP, load-balancer IP) restricts only traffic from outside the
 * cluster: clients inside (pods, the node) look up its INTERNAL entry, which has every
 * endpoint, as kube-proxy does. */
#define BPX_SVC_SCOPE_ALL 0
#define BPX_SVC_SCOPE_INTERNAL 1

/* Frontend: one per (VIP, port, protocol, scope). */
struct bpx_svc_key {
	union {
		__u8 addr[16];     /* network order; IPv4 v4-mapped */
		__be32 addr32[4];  /* the same, as words */
	};
	__be16 port;     /* network order; 0 in a wildcard (address-only) entry */
	__u8 proto;      /* BPX_PROTO_*; BPX_PROTO_ANY in a wildcard entry */
	__u8 scope;      /* BPX_SVC_SCOPE_*; zero in every other map keyed by this struct */
};
BPX_ASSERT_SIZE(struct bpx_svc_key, 20);

/* bpx_svc_value.flags */
#define BPX_SVC_F_WILDCARD 0x0001     /* address-only entry: refuse undefined ports */
#define BPX_SVC_F_CLUSTER_IP 0x0002   /* frontend is a ClusterIP */
#define BPX_SVC_F_NODEPORT 0x0004     /* frontend is a NodePort (TC path) */
#define BPX_SVC_F_EXTERNAL_IP 0x0008  /* frontend is an externalIP (TC path) */
#define BPX_SVC_F_LOADBALANCER 0x0010 /* frontend is a load-balancer ingress IP (TC path) */
#define BPX_SVC_F_LOCAL 0x0020        /* externalTrafficPolicy Local */
#define BPX_SVC_F_AFFINITY 0x0040     /* sessionAffinity ClientIP */
#define BPX_SVC_F_LB_PROXY 0x0080     /* loadBalancer ipMode Proxy: never short-circuited */
#define BPX_SVC_F_SOURCE_RANGES 0x0100 /* loadBalancerSourceRanges in bpx_lpm (key svc_id) */
#define BPX_SVC_F_DRAINED 0x0200       /* no new flows (bpfproxy.io/terminating-fallback drain,
					* drain-after): the backends stay listed for open flows */
#define BPX_SVC_F_METRICS 0x0400       /* bpfproxy.io/metrics: counted per backend in bpx_svcstat */

/* bpx_svc_value.algorithm: how a new flow picks among the slots (docs/load-balancing.md). */
#define BPX_LB_RANDOM 0      /* bpf_get_prandom_u32() % slots */
#define BPX_LB_MAGLEV 1      /* bpx_flow_hash() % table_size over the Maglev table */
#define BPX_LB_ROUND_ROBIN 2 /* rr_next % slots, then rr_next + 1 */

struct bpx_svc_value {
	__u32 svc_id;           /* host order; key of bpx_meta and bpx_slot; reused after release */
	__u32 generation;       /* host order; new on every backend-set change, and never handed out
				 * twice in a datapath (see bpx_generation): state that names
				 * (svc_id, generation) can only match the Service it was made for */
	__u16 backend_count;    /* host order; the backends, slots 0 .. backend_count-1 of bank
				 * (generation & 1), each once */
	__u16 flags;            /* host order; BPX_SVC_F_* */
	__u32 affinity_timeout; /* host order; seconds, sessionAffinity ClientIP */
	__u16 table_size;       /* host order; the lookup table in the slots after the backends
				 * (backend_count .. backend_count+table_size-1): Maglev's, or
				 * backends repeated by weight; 0: new flows pick among the backends */
	__u8 algorithm;         /* BPX_LB_* */
	__u8 pad;               /* zero */
	__u32 rr_next;          /* host order; round-robin position, advanced by the datapath;
				 * the agent writes what it read (0 for a new frontend) */
};
BPX_ASSERT_SIZE(struct bpx_svc_value, 24);
/* The 8-aligned word whose high half is rr_next: the datapath advances rr_next with one
 * 64-bit fetching add on it (bpx_rr_take in bpf/lib/lb_pick.bpf.h). */
#define BPX_SVC_RR_WORD_OFFSET 16

/*
 * Maglev's flow hash, the same on both paths and in `bpfproxy explain`: murmur3's 32-bit
 * mixing over the flow's words (addresses in network order, ports as they sit in the
 * packet). The TC path hashes the 5-tuple; the socket path has no source port yet when
 * connect() runs, so it hashes the client identity and the frontend with sport 0.
 */
static inline __attribute__((always_inline)) __u32 bpx_hash_mix(__u32 hash, __u32 word)
{
	word *= 0xcc9e2d51;
	word = (word << 15) | (word >> 17);
	word *= 0x1b873593;
	hash ^= word;
	hash = (hash << 13) | (hash >> 19);
	return hash * 5 + 0xe6546b64;
}

/* Loops kept rolled in BPF: unrolled, clang loads every word first and spills them, and
 * the TC programs' stack has no room for that. */
#ifdef __bpf__
#define BPX_ROLLED _Pragma("clang loop unroll(disable)")
#else
#define BPX_ROLLED
#endif

static inline __attribute__((always_inline)) __u32 bpx_flow_hash(const __be32 src[4], const __be32 dst[4],
								 __be16 sport, __be16 dport, __u8 proto)
{
	__u32 hash = 0x62707831; /* seed: "bpx1" */
	int i;

	BPX_ROLLED
	for (i = 0; i < 4; i++)
		hash = bpx_hash_mix(hash, src[i]);
	BPX_ROLLED
	for (i = 0; i < 4; i++)
		hash = bpx_hash_mix(hash, dst[i]);
	hash = bpx_hash_mix(hash, ((__u32)sport << 16) | dport);
	hash = bpx_hash_mix(hash, proto);
	hash ^= 40;
	hash ^= hash >> 16;
	hash *= 0x85ebca6b;
	hash ^= hash >> 13;
	hash *= 0xc2b2ae35;
	return hash ^ (hash >> 16);
}

/* Backend slots. The reconciler writes a new set into the bank the service does not use,
 * then flips bpx_svc_value.generation in one update: a connecting socket sees the old set
 * or the new one, never a mix. */
struct bpx_slot_key {
	__u32 svc_id; /* host order */
	__u16 index;  /* host order; 0 .. backend_count-1 */
	__u8 bank;    /* generation & 1 */
	__u8 pad;     /* zero */
};
BPX_ASSERT_SIZE(struct bpx_slot_key, 8);

struct bpx_slot_value {
	__u32 backend_id; /* host order; key of bpx_be */
};
BPX_ASSERT_SIZE(struct bpx_slot_value, 4);

/* bpx_backend.state */
#define BPX_BACKEND_ACTIVE 0      /* ready endpoint */
#define BPX_BACKEND_TERMINATING 1 /* serving while terminating: used only as a fallback */
#define BPX_BACKEND_QUARANTINED 2 /* kept for open flows, not picked */

/* bpx_backend.flags */
#define BPX_BACKEND_F_LOCAL 0x01 /* on this node */

struct bpx_backend {
	union {
		__u8 addr[16];    /* network order; IPv4 v4-mapped */
		__be32 addr32[4]; /* the same, as words */
	};
	__be16 port;   /* network order */
	__u8 proto;    /* BPX_PROTO_* */
	__u8 state;    /* BPX_BACKEND_* */
	__u8 flags;    /* BPX_BACKEND_F_* */
	__u8 pad[3];   /* zero */
};
BPX_ASSERT_SIZE(struct bpx_backend, 24);

/*
 * Per-socket state in socket-local storage (bpx_sock, BPF_MAP_TYPE_SK_STORAGE): it lives
 * and dies with the socket, so no socket evicts another's and nothing needs collecting.
 * One peer per frontend the socket was sent to:
 *  - reverse translation for recvmsg and getpeername: a socket that was sent to a backend
 *    sees the frontend it asked for (kept per socket, so two services sharing a backend
 *    cannot be confused);
 *  - an unconnected UDP socket keeps the backend it first got for each frontend.
 * A socket sending to more than BPX_SOCK_PEERS frontends reuses its oldest peer.
 */
#define BPX_SOCK_PEERS 4

struct bpx_sock_peer {
	union {
		__u8 backend[16];    /* network order; v4-mapped for IPv4 */
		__be32 backend32[4]; /* the same, as words */
	};
	union {
		__u8 frontend[16];    /* network order; the address the socket asked for */
		__be32 frontend32[4]; /* the same, as words */
	};
	__be16 backend_port;  /* network order */
	__be16 frontend_port; /* network order */
	__u32 svc_id;         /* host order */
	__u32 backend_id;     /* host order */
	__u32 generation;     /* host order; the service generation when last checked */
};
BPX_ASSERT_SIZE(struct bpx_sock_peer, 48);

struct bpx_sock_state {
	struct bpx_sock_peer peer[BPX_SOCK_PEERS];
	__u8 used;   /* peers filled, 0 .. BPX_SOCK_PEERS */
	__u8 next;   /* the peer to reuse when all are filled */
	__u8 sticky; /* bit i: peer i was picked by sendmsg (an unconnected UDP socket keeps it) */
	__u8 pad[5]; /* zero */
};
BPX_ASSERT_SIZE(struct bpx_sock_state, 200);

/*
 * sessionAffinity ClientIP on both paths: a client is an address, so every flow of a
 * client reaches the backend its first one got, until the Service's timeout passes without
 * one, whichever path carries it. The TC path keys by the packet's source; the socket
 * hooks by the pod's address (bpx_nsaddr, from the socket's network namespace), or the
 * node's (the SNAT address of the family in bpx_tccfg) for the node's own namespace, which
 * host-network pods share. A namespace whose address is not known yet is keyed by
 * BPX_CLIENT_NETNS_PREFIX + its netns cookie (100::/64, the discard prefix: no client).
 */
#define BPX_CLIENT_NETNS_PREFIX 0x01000000 /* first word, host order, of 100::/64 */

struct bpx_client_affinity_key {
	union {
		__u8 client[16];    /* network order; v4-mapped for IPv4 */
		__be32 client32[4]; /* the same, as words */
	};
	__u32 svc_id; /* host order */
	__u32 pad;    /* zero */
};
BPX_ASSERT_SIZE(struct bpx_client_affinity_key, 24);

struct bpx_client_affinity_value {
	__u32 backend_id;   /* host order */
	__u32 generation;   /* host order; the service generation it was last checked against */
	__u64 last_used_ns; /* host order; CLOCK_MONOTONIC (bpf_ktime_get_ns) */
};
BPX_ASSERT_SIZE(struct bpx_client_affinity_value, 16);

/* Service identity, so inspection works while the agent is down. */
#define BPX_NAMESPACE_LEN 64 /* DNS label: 63 + NUL */
#define BPX_NAME_LEN 64
#define BPX_PORT_NAME_LEN 16 /* IANA service name: 15 + NUL */

/* bpx_svc_meta.type */
#define BPX_SVC_TYPE_CLUSTER_IP 0
#define BPX_SVC_TYPE_NODE_PORT 1
#define BPX_SVC_TYPE_LOAD_BALANCER 2
#define BPX_SVC_TYPE_EXTERNAL_IP 3

struct bpx_svc_meta {
	char namespace_[BPX_NAMESPACE_LEN]; /* NUL-terminated */
	char name[BPX_NAME_LEN];            /* NUL-terminated */
	char port_name[BPX_PORT_NAME_LEN];  /* NUL-terminated; empty for an unnamed port */
	__u8 type;                          /* BPX_SVC_TYPE_*: the frontend's kind */
	__u8 pad[7];                        /* zero */
};
BPX_ASSERT_SIZE(struct bpx_svc_meta, 152);

/* Index 0 of the array bpx_gen: generations below `floor` may have been handed out. The agent
 * persists it before using a generation past it, so a restarted agent (which cannot see the
 * sticky entries of deleted Services) never hands out a generation twice. */
struct bpx_generation {
	__u32 floor; /* host order */
	__u32 pad;   /* zero */
};
BPX_ASSERT_SIZE(struct bpx_generation, 8);

/* Stored at index 0 of bpx_layout: a loader refuses pins whose layout it does not know. */
struct bpx_layout {
	__u32 magic;   /* host order; BPX_LAYOUT_MAGIC */
	__u32 version; /* host order; BPX_LAYOUT_VERSION */
};
BPX_ASSERT_SIZE(struct bpx_layout, 8);

/* Counters in the per-CPU array bpx_stats: index = BPX_STAT_*. */
#define BPX_STAT_CONNECT4 0        /* connect4 translated */
#define BPX_STAT_CONNECT6 1        /* connect6 translated */
#define BPX_STAT_SENDMSG4 2        /* sendmsg4 translated */
#define BPX_STAT_SENDMSG6 3        /* sendmsg6 translated */
#define BPX_STAT_RECVMSG4 4        /* recvmsg4 reverse-translated */
#define BPX_STAT_RECVMSG6 5        /* recvmsg6 reverse-translated */
#define BPX_STAT_GETPEERNAME4 6    /* getpeername4 reverse-translated */
#define BPX_STAT_GETPEERNAME6 7    /* getpeername6 reverse-translated */
#define BPX_STAT_DROP_NO_BACKEND 8 /* refused: service without usable backends */
#define BPX_STAT_DROP_NO_PORT 9    /* refused: port the ClusterIP does not define */
#define BPX_STAT_DROP_STALE 10     /* slot or backend missing: a reconcile race */
#define BPX_STAT_TCP 11            /* translations of TCP sockets */
#define BPX_STAT_UDP 12            /* translations of UDP sockets */
/* The per-packet (TC) datapath. */
#define BPX_STAT_TC_NODEPORT 13          /* new flows to a NodePort */
#define BPX_STAT_TC_EXTERNAL 14          /* new flows to an externalIP or load-balancer IP */
#define BPX_STAT_TC_CLUSTER_IP 15        /* new flows to a ClusterIP (pod path, or allowed from outside) */
#define BPX_STAT_TC_REVNAT 16            /* reply packets translated back */
#define BPX_STAT_TC_SNAT 17              /* new flows source-translated to this node */
#define BPX_STAT_TC_REPICK 18            /* conntrack hits whose backend was gone: moved */
#define BPX_STAT_TC_DROP_NO_LOCAL 19     /* dropped: externalTrafficPolicy Local, no local endpoint */
#define BPX_STAT_TC_DROP_SRC_RANGE 20    /* dropped: source outside loadBalancerSourceRanges */
#define BPX_STAT_TC_REJECT_NO_PORT 21    /* rejected: port a service address does not define */
#define BPX_STAT_TC_REJECT_UNALLOCATED 22 /* rejected: service-CIDR address no Service has */
#define BPX_STAT_TC_DROP_EXT_CLUSTER_IP 23 /* dropped: ClusterIP reached from outside */
#define BPX_STAT_TC_DROP_SNAT_PORTS 24   /* dropped: no free SNAT port */
#define BPX_STAT_TC_ICMP_REVNAT 25       /* ICMP errors about translated flows translated back */
#define BPX_STAT_TC_DROP_UNSUPPORTED 26  /* dropped: a port change of a fragmented SCTP datagram */
#define BPX_STAT_BIND_REFUSED 27         /* bind() refused: it would shadow a NodePort */
#define BPX_STAT_TC_HAIRPIN 28           /* new flows of a pod to its own Service landing on itself */
#define BPX_STAT_TC_REJECT_NO_BACKEND 29 /* rejected: Service without endpoints (TC path) */
#define BPX_STAT_SOCK_BYPASS 30          /* socket-hook calls skipped: cgroup opted out */
#define BPX_STAT_DROP_UNALLOCATED 31     /* refused: service-CIDR address no Service has (socket path) */
#define BPX_STAT_SCTP 32                 /* translations of SCTP sockets */
#define BPX_STAT_DROP_SRC_RANGE 33       /* refused: client outside loadBalancerSourceRanges (socket path) */
#define BPX_STAT_TC_FRAGMENT 34          /* later fragments given their first fragment's ports */
#define BPX_STAT_TC_FRAG_MISS 35         /* later fragments whose first was not seen: passed as they are */
#define BPX_STAT_DROP_DRAINED 36         /* refused: new flow to a drained Service (socket path) */
#define BPX_STAT_TC_REJECT_DRAINED 37    /* rejected: new flow to a drained Service (TC path) */
#define BPX_STAT_COUNT 48          /* room for later counters */

struct bpx_stat {
	__u64 count; /* host order */
};
BPX_ASSERT_SIZE(struct bpx_stat, 8);

/*
 * Traffic per frontend and backend, for the frontends flagged BPX_SVC_F_METRICS (the
 * Services annotated bpfproxy.io/metrics, up to --max-metrics-services): a per-CPU hash,
 * summed over CPUs at scrape time. The agent deletes a (svc_id, backend_id) pair's entries
 * when the backend leaves the frontend or either id is released, so a reused id starts at
 * zero. A live connection count (least-connections) would need one shared value the
 * datapath reads in a lookup: a separate, non-per-CPU map under the same key.
 */
#define BPX_SVC_STATS_SOCKET 0 /* the socket hooks: connect(), and a new backend for sendmsg() */
#define BPX_SVC_STATS_TC 1     /* the per-packet datapath: new flows, forward packets and bytes */

struct bpx_svc_stats_key {
	__u32 svc_id;     /* host order; bpx_svc_value.svc_id of the frontend */
	__u32 backend_id; /* host order; key of bpx_be */
	__u8 path;        /* BPX_SVC_STATS_* */
	__u8 pad[3];      /* zero */
};
BPX_ASSERT_SIZE(struct bpx_svc_stats_key, 12);

struct bpx_svc_stats {
	__u64 connections; /* host order; new connections (socket) or flows (TC) */
	__u64 packets;     /* host order; TC: packets client -> backend; socket: 0 */
	__u64 bytes;       /* host order; TC: their bytes (L2 length as TC sees it); socket: 0 */
};
BPX_ASSERT_SIZE(struct bpx_svc_stats, 24);

/*
 * Per-packet datapath. Conntrack holds two entries per flow in one LRU map: the forward
 * entry, keyed by the packet as the client sent it, and the reply entry, keyed by the
 * packet as the backend answers it (to the client, or to this node's SNAT address).
 */
#define BPX_CT_FORWARD 1
#define BPX_CT_REPLY 2

struct bpx_ct_key {
	union {
		__u8 src[16];     /* network order; v4-mapped for IPv4 */
		__be32 src32[4];  /* the same, as words */
	};
	union {
		__u8 dst[16];     /* network order; v4-mapped for IPv4 */
		__be32 dst32[4];  /* the same, as words */
	};
	__be16 sport;  /* network order; ICMP echo: the identifier */
	__be16 dport;  /* network order */
	__u8 proto;    /* BPX_PROTO_* */
	__u8 dir;      /* BPX_CT_FORWARD or BPX_CT_REPLY */
	__u8 pad[2];   /* zero */
};
BPX_ASSERT_SIZE(struct bpx_ct_key, 40);

/* bpx_ct_value.flags */
#define BPX_CT_F_SNAT 0x01    /* the source was translated to nat_addr:nat_port */
#define BPX_CT_F_HAIRPIN 0x02 /* a pod reached itself through its Service */
#define BPX_CT_F_REDIRECT 0x04 /* translated packets bypass the stack (bpf_redirect) */
/* TCP's end, on reply entries (zero in entries of older agents: nothing seen yet). A SNAT
 * port is reused once its flow closed; see bpx_ct_reclaim in bpf/lib/tc_snat.bpf.h. */
#define BPX_CT_F_FIN_CLIENT 0x08   /* the client sent FIN */
#define BPX_CT_F_FIN_BACKEND 0x10  /* the backend sent FIN */
#define BPX_CT_F_BACKEND_WAIT 0x20 /* the backend closed first: it holds the TIME_WAIT */
#define BPX_CT_F_RESET 0x40        /* a RST went either way */
#define BPX_CT_F_CLOSING (BPX_CT_F_FIN_CLIENT | BPX_CT_F_FIN_BACKEND | BPX_CT_F_BACKEND_WAIT | BPX_CT_F_RESET)

struct bpx_ct_value {
	/* Forward entry: nat_addr/nat_port = the SNAT source (zero without SNAT).
	 * Reply entry: nat_addr/nat_port = the frontend, the reply's new source;
	 * orig_addr/orig_port = the client, the reply's new destination. */
	union {
		__u8 nat_addr[16];    /* network order */
		__be32 nat_addr32[4]; /* the same, as words */
	};
	union {
		__u8 orig_addr[16];    /* network order; reply entry only */
		__be32 orig_addr32[4]; /* the same, as words */
	};
	__be16 nat_port;   /* network order */
	__be16 orig_port;  /* network order; reply entry only */
	__u32 backend_id;  /* host order; forward entry: the chosen backend */
	__u32 svc_id;      /* host order; forward entry: the frontend's svc_id when chosen */
	__u32 generation;  /* host order; forward entry: bpx_svc_value.generation when checked */
	__u16 flags;       /* host order; BPX_CT_F_* */
	__u8 pad[6];       /* zero */
};
BPX_ASSERT_SIZE(struct bpx_ct_value, 56);

/* This node's addresses, filled by the agent from the --devices. */
#define BPX_NODE_ADDR_F_NODEPORT 0x01 /* NodePorts answer here (--nodeport-addresses) */
#define BPX_NODE_ADDR_F_SNAT 0x02     /* preferred source for SNAT in its family */

struct bpx_node_addr {
	__u32 ifindex; /* host order; the device holding it */
	__u32 flags;   /* host order; BPX_NODE_ADDR_F_* */
};
BPX_ASSERT_SIZE(struct bpx_node_addr, 8);

/* One LPM trie for prefixes per service: loadBalancerSourceRanges under the frontend's
 * svc_id, the service CIDRs under BPX_LPM_SERVICE_CIDR. */
#define BPX_LPM_SERVICE_CIDR 0xffffffff

struct bpx_lpm_key {
	__u32 prefixlen; /* host order; 32 (svc_id) + prefix over the 128-bit address */
	__u32 svc_id;    /* host order; big-endian would sort better, but it is matched whole */
	union {
		__u8 addr[16];    /* network order; v4-mapped for IPv4 */
		__be32 addr32[4]; /* the same, as words */
	};
};
BPX_ASSERT_SIZE(struct bpx_lpm_key, 24);

struct bpx_lpm_value {
	__u32 present; /* host order; 1 */
};
BPX_ASSERT_SIZE(struct bpx_lpm_value, 4);

/* bpx_tc_config.flags */
#define BPX_TC_CFG_ALLOW_EXTERNAL_CLUSTER_IP 0x01 /* ClusterIPs reachable from outside */
/* 0x02 was "externalIPs not on this node honoured": now the default, no longer read. */
#define BPX_TC_CFG_EXTERNAL_IPS_NODE_ONLY 0x04    /* externalIPs served only when this node's */
#define BPX_TC_CFG_LOADED 0x80000000              /* the agent wrote this entry */

/* Index 0 of the array bpx_tccfg: what the agent's flags say. */
struct bpx_tc_config {
	__u32 flags;          /* host order; BPX_TC_CFG_* */
	__u16 nodeport_min;   /* host order; --nodeport-range */
	__u16 nodeport_max;   /* host order */
	__u16 snat_port_min;  /* host order; ports for SNAT, reserved on the node */
	__u16 snat_port_max;  /* host order */
	__u32 optout_count;   /* host order; entries in bpx_optout (0: skip the lookup) */
	union {
		__u8 snat_v4[16];    /* network order; v4-mapped; SNAT source for IPv4 */
		__be32 snat_v4_32[4];
	};
	union {
		__u8 snat_v6[16];    /* network order; SNAT source for IPv6 */
		__be32 snat_v6_32[4];
	};
	__u64 node_netns_cookie; /* host order; the node's network namespace: bind protection
				  * applies there only (0: everywhere) */
};
BPX_ASSERT_SIZE(struct bpx_tc_config, 56);

/* Pods whose packets the pod-facing TC programs translate (they bypass the socket hooks). */
struct bpx_tc_pod {
	__u64 cgroup_id; /* host order; its cgroup, also in bpx_optout */
};
BPX_ASSERT_SIZE(struct bpx_tc_pod, 8);

/* IPv4 and IPv6 fragments: the first fragment of a datagram records its ports here, so
 * the later ones (which carry none) are translated as their flow is. */
struct bpx_frag_key {
	union {
		__u8 src[16];    /* network order; v4-mapped for IPv4 */
		__be32 src32[4];
	};
	union {
		__u8 dst[16];    /* network order; v4-mapped for IPv4 */
		__be32 dst32[4];
	};
	__be32 id;     /* network order; the IP identification (IPv4: 16 bits, high half zero) */
	__u8 proto;    /* the L4 protocol */
	__u8 pad[3];   /* zero */
};
BPX_ASSERT_SIZE(struct bpx_frag_key, 40);

struct bpx_frag_ports {
	__be16 sport; /* network order */
	__be16 dport; /* network order */
};
BPX_ASSERT_SIZE(struct bpx_frag_ports, 4);

/* bpx_nsaddr: a network namespace's cookie (host order __u64) -> its addresses, filled by
 * the agent: the socket hooks' client identity for a pod. */
struct bpx_netns_addr {
	union {
		__u8 v4[16];    /* network order; v4-mapped; zero when none */
		__be32 v4_32[4];
	};
	union {
		__u8 v6[16];    /* network order; zero when none */
		__be32 v6_32[4];
	};
};
BPX_ASSERT_SIZE(struct bpx_netns_addr, 32);

/* bpx_optout: cgroup id (host order __u64) -> this; the socket hooks leave such sockets alone. */
struct bpx_optout {
	__u32 flags; /* host order; reserved, 0 */
	__u32 pad;   /* zero */
};
BPX_ASSERT_SIZE(struct bpx_optout, 8);

#endif /* BPFPROXY_MAPS_ABI_H */
