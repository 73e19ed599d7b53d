/*-------------------------------------------------------------------------
 * copybin.h
 *	  PostgreSQL's documented COPY BINARY format, read in place: the header
 *	  and the framing of each row (field count, then each field's length
 *	  and bytes), pure C.
 *
 * Owns the framing checks only: where each field of a row starts and how
 * long it is.  What the field bytes mean (the types' receive functions) is
 * the caller's; it knows nothing of chunks or of where the bytes come from.
 * The reader never looks past the bytes it is given: a row cut short asks
 * for more (COPYBIN_MORE, with the length it needs at least).
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_COPYBIN_H
#define VAULT_COPYBIN_H

#include <stddef.h>
#include <stdint.h>

#define COPYBIN_SIGNATURE_LEN	11
#define COPYBIN_FIELD_MAX		0x3FFFFFFF	/* PostgreSQL's MaxAllocSize - 1 */

typedef enum CopyBinStatus
{
	COPYBIN_ROW,				/* a whole row (or the whole header) */
	COPYBIN_END,				/* the trailer: no row follows */
	COPYBIN_MORE,				/* cut short: *used is what it needs at least */
	COPYBIN_BAD					/* not the format: *why says what */
} CopyBinStatus;

typedef struct CopyBinField
{
	size_t		off;			/* from the start of the row */
	int32_t		len;			/* -1: NULL */
} CopyBinField;

extern CopyBinStatus copybin_header(const uint8_t *buf, size_t avail, size_t *used,
									const char **why);
extern CopyBinStatus copybin_row(const uint8_t *buf, size_t avail, int nfields,
								 CopyBinField *fields, size_t *used, const char **why);

#endif							/* VAULT_COPYBIN_H */
