/*-------------------------------------------------------------------------
 * stream/stream.h
 *	  Tables to bytes and back: the COPY BINARY writer, the unchanged-table
 *	  proof, table definitions.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_STREAM_H
#define VAULT_STREAM_H

#include "store/store.h"

#include "access/xlogdefs.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/* ---- table_stream.c: table rows -> COPY BINARY bytes ---- */
typedef void (*StreamEmit) (void *arg, const char *data, size_t len);

typedef struct TableStreamStats
{
	int64		rows;
	int64		bytes;
} TableStreamStats;

extern void table_stream_write(Relation rel, Snapshot snapshot,
							   StreamEmit emit, void *arg, TableStreamStats *stats);
extern bool stream_type_binary_io(Oid typid);
extern int	stream_encoding_begin(void);
extern void stream_encoding_end(int saved);

/* ---- unchanged.c: proving a table unchanged since an earlier point ---- */
#define PROOF_DIGEST_LEN 32

typedef struct ScanProof
{
	bool		usable;			/* this backup can record a proof */
	XLogRecPtr	lsn;			/* WAL insert position before the snapshot */
	int			nxids;
	int64	   *xids;			/* full ids possibly invisible yet written */
} ScanProof;

typedef struct ProofMatch
{
	int64		point_id;		/* earlier point whose stream is reused */
	int			ordinal;
	int64		rows;
	int64		logical_bytes;
	int64		chunks;
} ProofMatch;

extern void proof_begin(ScanProof *proof);
extern void proof_snapshot(ScanProof *proof, Snapshot snapshot);
extern bool proof_table_digest(Relation rel, uint8 digest[PROOF_DIGEST_LEN], XLogRecPtr *maxlsn);
extern bool proof_find_unchanged(VaultCall *call, VaultInfo *vault, Oid relid, Jsonb *def,
								 const uint8 digest[PROOF_DIGEST_LEN], XLogRecPtr maxlsn,
								 ProofMatch *prev);
extern void proof_datums(ScanProof *proof, Datum *lsn, bool *lsn_null, Datum *xids, bool *xids_null);

/* ---- tabledef.c: definitions captured at backup, DDL at restore ---- */
extern Jsonb *tabledef_capture(VaultCall *call, Oid relid);
extern Oid	tabledef_create(VaultCall *call, Jsonb *def, const char *schema, const char *name);
extern void tabledef_finish(VaultCall *call, Jsonb *def, const char *schema, const char *name);
extern void tabledef_foreign_keys(VaultCall *call, Jsonb *def, const char *schema,
								  const char *name, const char *point_schema, Jsonb *siblings);

#endif							/* VAULT_STREAM_H */
