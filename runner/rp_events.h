/*
 * rp_events: the run's event log (events.jsonl).
 *
 * Owns: the in-memory log and the optional live copy (--event-log FILE),
 * which is appended and flushed as each event happens so an orchestrator can
 * tail it. Every event is one JSON object on one line with "seq" (from 1),
 * "ts" (RFC 3339 UTC, milliseconds) and "type", then the event's fields.
 * Every event passes through the redactor (when one is set) before it is
 * stored or written anywhere.
 */
#ifndef RP_EVENTS_H
#define RP_EVENTS_H

#include "rp_buf.h"
#include "rp_redact.h"

#include <jansson.h>
#include <stdint.h>

struct rp_events;

/* live_path may be NULL. The live file is created or truncated, mode 0644. */
int rp_events_open(struct rp_events **out, const char *live_path);
/* Set (or replace) the redactor applied to later events; borrowed. */
void rp_events_set_redactor(struct rp_events *ev, const struct rp_redactor *r);
/* Append an event; fields (may be NULL) is stolen. A failing live write is
 * recorded once and does not stop the run. */
int rp_events_emit(struct rp_events *ev, const char *type, json_t *fields);
/* The JSON-lines text so far. */
const struct rp_buf *rp_events_text(const struct rp_events *ev);
uint64_t rp_events_count(const struct rp_events *ev);
void rp_events_free(struct rp_events *ev);

#endif
