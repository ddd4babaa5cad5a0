// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which queues carry requests and which carry buffers the driver posts ahead of data. A
 * request (a disk read, a transmitted frame) waits for the device: its age is latency, and a
 * request that does not complete is a stuck device. A receive buffer (a NIC's, a console
 * port's) waits for the outside world: a receive queue idle with a thousand buffers posted is
 * healthy, and what can stop it is the driver no longer posting them.
 *
 * Two sources, the descriptors first: a chain with a device-readable descriptor carries a
 * request (the queue model marks each chain so). Where no chain says, the device type and
 * the queue's index, as VirtIO 1.2 numbers them, in the table below: every queue not listed
 * is a request queue (the driver puts work on it and waits: blk, a NIC's transmit and control
 * queues, entropy requests, balloon, SCSI requests, 9p, fs, gpu, crypto...).
 */
#include <linux/virtio_ids.h>

#include "queue_kind.h"

/*
 * | device (VirtIO 1.2)     | receive queues                                        |
 * | ----------------------- | ----------------------------------------------------- |
 * | net (5.1.2)             | receiveqN = 2N; controlq = 2 * max pairs is even too, |
 * |                         | but its chains carry a device-readable header         |
 * | console (5.3.2)         | receiveq0 = 0, control receiveq = 2, port N's = 2N+2: |
 * |                         | every even index                                      |
 * | scsi (5.6.2)            | eventq = 1                                            |
 * | input (5.8.2)           | eventq = 0                                            |
 * | vsock (5.10.2)          | rx = 0, event = 2                                     |
 * | iommu (5.13.2)          | eventq = 1                                            |
 * | sound (5.14.2)          | eventq = 1, rxq = 3 (capture)                         |
 * | gpio (5.17.2)           | eventq = 1                                            |
 */
bool qk_receive_by_index(__u32 device_id, __u32 queue)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
	case VIRTIO_ID_CONSOLE:
		return queue % 2 == 0;
	case VIRTIO_ID_SCSI:
	case VIRTIO_ID_IOMMU:
	case VIRTIO_ID_GPIO:
		return queue == 1;
	case VIRTIO_ID_INPUT:
		return queue == 0;
	case VIRTIO_ID_VSOCK:
		return queue == 0 || queue == 2;
	case VIRTIO_ID_SOUND:
		return queue == 1 || queue == 3;
	default:
		return false;
	}
}

const char *qk_name(bool receive)
{
	return receive ? "receive" : "request";
}
