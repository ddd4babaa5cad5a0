/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The split virtqueue as the VirtIO spec fixes it (1.x, 2.7), shared by the BPF tracer and
 * libgma.
 *
 * The layouts below are an ABI of the spec, not kernel internals, so they are plain structs
 * with plain offsets in both compilers. BPF must never read them through CO-RE: a bare-metal
 * KVM host has no VirtIO device, so its virtio/virtio_ring modules are not loaded and its BTF
 * has no struct vring_desc to relocate against (the tracer then failed to load there).
 * Userspace checks at compile time that they match the kernel's uapi <linux/virtio_ring.h>.
 */
#ifndef GMA_VRING_WALK_H
#define GMA_VRING_WALK_H

#ifndef __bpf__
#include <linux/types.h>
#include <stddef.h>
#endif

/* A descriptor: 16 bytes, little-endian (x86 hosts and guests only). */
struct gma_vring_desc {
	__u64 addr;
	__u32 len;
	__u16 flags;
	__u16 next;
};

/* An element of the used ring: the head of a chain and the bytes the device wrote. */
struct gma_vring_used_elem {
	__u32 id;
	__u32 len;
};

#define GMA_VRING_DESC_F_NEXT 1
#define GMA_VRING_DESC_F_WRITE 2
#define GMA_VRING_DESC_F_INDIRECT 4

/* The split ring's largest size (Queue Size <= 32768). */
#define GMA_VRING_NUM_MAX 32768

/*
 * Offsets within the driver area (avail ring) and the device area (used ring):
 *   avail: flags u16 | idx u16 | ring[num] u16 | used_event u16
 *   used:  flags u16 | idx u16 | ring[num] {id u32, len u32} | avail_event u16
 */
#define GMA_VRING_AVAIL_IDX_OFF 2
#define GMA_VRING_USED_IDX_OFF 2
#define GMA_VRING_RING_OFF 4

static inline __u64 gma_vring_avail_entry_off(__u32 slot)
{
	return GMA_VRING_RING_OFF + (__u64)slot * sizeof(__u16);
}

static inline __u64 gma_vring_used_elem_off(__u32 slot)
{
	return GMA_VRING_RING_OFF + (__u64)slot * sizeof(struct gma_vring_used_elem);
}

#ifndef __bpf__
#include <linux/virtio_ring.h>

_Static_assert(sizeof(struct gma_vring_desc) == sizeof(struct vring_desc) &&
		       offsetof(struct gma_vring_desc, len) == offsetof(struct vring_desc, len) &&
		       offsetof(struct gma_vring_desc, flags) ==
			       offsetof(struct vring_desc, flags) &&
		       offsetof(struct gma_vring_desc, next) == offsetof(struct vring_desc, next),
	       "struct gma_vring_desc is the spec's descriptor");
_Static_assert(sizeof(struct gma_vring_used_elem) == sizeof(struct vring_used_elem) &&
		       offsetof(struct gma_vring_used_elem, len) ==
			       offsetof(struct vring_used_elem, len),
	       "struct gma_vring_used_elem is the spec's used element");
_Static_assert(GMA_VRING_DESC_F_NEXT == VRING_DESC_F_NEXT &&
		       GMA_VRING_DESC_F_WRITE == VRING_DESC_F_WRITE &&
		       GMA_VRING_DESC_F_INDIRECT == VRING_DESC_F_INDIRECT,
	       "descriptor flags are the spec's");
_Static_assert(offsetof(struct vring_avail, idx) == GMA_VRING_AVAIL_IDX_OFF &&
		       offsetof(struct vring_avail, ring) == GMA_VRING_RING_OFF &&
		       offsetof(struct vring_used, idx) == GMA_VRING_USED_IDX_OFF &&
		       offsetof(struct vring_used, ring) == GMA_VRING_RING_OFF,
	       "ring offsets are the spec's");
#endif

#endif /* GMA_VRING_WALK_H */
