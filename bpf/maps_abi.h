/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The map contract between the BPF programs and the C++ side. Both compilers include
 * this header and nothing else defines these structs. Rules:
 *  - fixed-width kernel types only, padding written out, sizes pinned by static asserts;
 *  - every address is 16 bytes: IPv4 is stored v4-mapped (::ffff:a.b.c.d), which makes
 *    one map serve both families and makes connect6 with a v4-mapped address free;
 *  - change a field's meaning or layout: bump BPX_LAYOUT_VERSION and the _vN map names.
 */
#ifndef BPFPROXY_MAPS_ABI_H
#define BPFPROXY_MAPS_ABI_H

#include <linux/types.h>

#ifdef __cplusplus
#define BPX_ASSERT_SIZE(type, size) static_assert(sizeof(type) == (size), #type " size")
#else
#define BPX_ASSERT_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " size")
#endif

#define BPX_LAYOUT_VERSION 1
#define BPX_LAYOUT_MAGIC 0x62707831 /* "bpx1" */

/* Map names: the kernel keeps 15 characters. */
#define BPX_MAP_LAYOUT bpx_layout_v1
#define BPX_MAP_SVC bpx_svc_v1
#define BPX_MAP_SLOT bpx_slot_v1
#define BPX_MAP_BACKEND bpx_be_v1
#define BPX_MAP_REVNAT bpx_revnat_v1
#define BPX_MAP_UDP_AFFINITY bpx_udpaff_v1
#define BPX_MAP_SVC_META bpx_meta_v1
#define BPX_MAP_STATS bpx_stats_v1

#define BPX_STRINGIFY_(x) #x
#define BPX_STRINGIFY(x) BPX_STRINGIFY_(x)

/* Default sizes; the loader overrides them from flags before load. */
#define BPX_DEFAULT_SERVICE_PORTS 65536
#define BPX_DEFAULT_BACKENDS 262144
#define BPX_DEFAULT_REVNAT 262144
#define BPX_DEFAULT_UDP_AFFINITY 65536
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

/* Frontend: one per (VIP, port, protocol). */
struct bpx_svc_key {
	union {
		__u8 addr[16];     /* network order; IPv4 v4-mapped */
		__be32 addr32[4];  /* the same, as words */
	};
	__be16 port;     /* network order; 0 in a wildcard (address-only) entry */
	__u8 proto;      /* BPX_PROTO_*; BPX_PROTO_ANY in a wildcard entry */
	__u8 pad;        /* zero */
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

struct bpx_svc_value {
	__u32 svc_id;           /* host order; key of bpx_meta and bpx_slot */
	__u32 generation;       /* host order; bumped on every backend-set change */
	__u16 backend_count;    /* host order; active slots in bank (generation & 1) */
	__u16 flags;            /* host order; BPX_SVC_F_* */
	__u32 affinity_timeout; /* host order; seconds, sessionAffinity ClientIP */
};
BPX_ASSERT_SIZE(struct bpx_svc_value, 16);

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

/* Reverse translation for recvmsg and getpeername: a socket that was sent to a backend
 * sees the frontend it asked for. Keyed by socket so two services sharing a backend
 * cannot be confused. */
struct bpx_revnat_key {
	__u64 cookie; /* host order; socket cookie */
	union {
		__u8 addr[16];    /* network order; backend, v4-mapped for IPv4 */
		__be32 addr32[4]; /* the same, as words */
	};
	__be16 port;   /* network order; backend port */
	__u8 pad[6];   /* zero */
};
BPX_ASSERT_SIZE(struct bpx_revnat_key, 32);

struct bpx_revnat_value {
	union {
		__u8 addr[16];    /* network order; frontend */
		__be32 addr32[4]; /* the same, as words */
	};
	__be16 port;   /* network order; frontend port */
	__u8 pad[2];   /* zero */
	__u32 svc_id;  /* host order */
};
BPX_ASSERT_SIZE(struct bpx_revnat_value, 24);

/* An unconnected UDP socket keeps the backend it first got for each frontend. */
struct bpx_udp_affinity_key {
	__u64 cookie; /* host order; socket cookie */
	__u32 svc_id; /* host order */
	__u32 pad;    /* zero */
};
BPX_ASSERT_SIZE(struct bpx_udp_affinity_key, 16);

struct bpx_udp_affinity_value {
	__u32 backend_id; /* host order */
	__u32 generation; /* host order; the service generation when chosen */
};
BPX_ASSERT_SIZE(struct bpx_udp_affinity_value, 8);

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
#define BPX_STAT_COUNT 32          /* room for later counters */

struct bpx_stat {
	__u64 count; /* host order */
};
BPX_ASSERT_SIZE(struct bpx_stat, 8);

#endif /* BPFPROXY_MAPS_ABI_H */
