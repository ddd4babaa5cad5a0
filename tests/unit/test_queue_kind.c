// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The receive queues of each device type, as VirtIO 1.2 numbers them (queue_kind.c), for
 * the devices a KVM guest has: virtio-net's rx/tx pairs, a multiport console's ports, vsock.
 */
#include <criterion/criterion.h>
#include <linux/virtio_ids.h>

#include "queue_kind.h"

Test(queue_kind, net_receive_queues_are_the_even_ones)
{
	for (__u32 pair = 0; pair < 8; pair++) {
		cr_assert(qk_receive_by_index(VIRTIO_ID_NET, 2 * pair), "receiveq%u", pair + 1);
		cr_assert_not(qk_receive_by_index(VIRTIO_ID_NET, 2 * pair + 1), "transmitq%u",
			      pair + 1);
	}
}

Test(queue_kind, console_ports_and_control_receive_on_even_queues)
{
	/* receiveq0, control receiveq, then port 1's and port 30's */
	cr_assert(qk_receive_by_index(VIRTIO_ID_CONSOLE, 0));
	cr_assert(qk_receive_by_index(VIRTIO_ID_CONSOLE, 2));
	cr_assert(qk_receive_by_index(VIRTIO_ID_CONSOLE, 4));
	cr_assert(qk_receive_by_index(VIRTIO_ID_CONSOLE, 62));
	cr_assert_not(qk_receive_by_index(VIRTIO_ID_CONSOLE, 1));
	cr_assert_not(qk_receive_by_index(VIRTIO_ID_CONSOLE, 3));
	cr_assert_not(qk_receive_by_index(VIRTIO_ID_CONSOLE, 63));
}

Test(queue_kind, request_devices_have_no_receive_queue)
{
	static const __u32 ids[] = {
		VIRTIO_ID_BLOCK, VIRTIO_ID_RNG, VIRTIO_ID_BALLOON, VIRTIO_ID_9P,
		VIRTIO_ID_FS,	 VIRTIO_ID_GPU, VIRTIO_ID_CRYPTO,  0,
		0xffff
	};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		for (__u32 q = 0; q < 16; q++)
			cr_assert_not(qk_receive_by_index(ids[i], q), "device %u queue %u", ids[i],
				      q);
}

Test(queue_kind, event_queues_receive)
{
	cr_assert(qk_receive_by_index(VIRTIO_ID_VSOCK, 0));
	cr_assert_not(qk_receive_by_index(VIRTIO_ID_VSOCK, 1));
	cr_assert(qk_receive_by_index(VIRTIO_ID_VSOCK, 2));
	cr_assert(qk_receive_by_index(VIRTIO_ID_INPUT, 0));
	cr_assert_not(qk_receive_by_index(VIRTIO_ID_INPUT, 1));
	cr_assert(qk_receive_by_index(VIRTIO_ID_SCSI, 1));
	cr_assert_not(qk_receive_by_index(VIRTIO_ID_SCSI, 2));
}
