/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The verdict on a queue's health: a pure function of the evidence the queue model gathered
 * (struct gma_queue_health without its verdict). Internal to libgma; the rules are at the top
 * of queue_health.c.
 */
#ifndef GMA_QUEUE_HEALTH_H
#define GMA_QUEUE_HEALTH_H

#include <gma/gma.h>

/* The verdict of the first rule that holds for h's evidence (h->verdict is not read). */
enum gma_health qh_verdict(const struct gma_queue_health *h);

#endif /* GMA_QUEUE_HEALTH_H */
