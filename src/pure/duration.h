/*-------------------------------------------------------------------------
 * duration.h
 *	  Lengths of time written for people ("30 days", "1 year 6 months"),
 *	  pure C.
 *
 * Owns parsing such text into seconds, for the settings that keep history
 * (vault.job_history, vault.report_history).  A month is 30 days and a
 * year 365: these are retention horizons, not calendar arithmetic.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_DURATION_H
#define VAULT_DURATION_H

#include <stdbool.h>
#include <stdint.h>

/* One or more "<count> <unit>" pairs; false on anything else or overflow. */
extern bool duration_parse(const char *text, int64_t *seconds);

#endif							/* VAULT_DURATION_H */
