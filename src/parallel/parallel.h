/*-------------------------------------------------------------------------
 * parallel/parallel.h
 *	  The parallel pipeline: tables read, cut and sealed by dynamic
 *	  background workers under the caller's snapshot, stored by the caller.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_PARALLEL_H
#define VAULT_PARALLEL_H

#include "monitor/monitor.h"
#include "stream/stream.h"

/* how a table of the point is read (PipelineCallbacks.prepare decides) */
typedef struct PipelineTable
{
	bool		seal;			/* no previous stream: the workers cut and
								 * seal its chunks; else they send its
								 * stream and the caller's writer cuts it
								 * (against the previous stream's bases) */
	bool		pages;			/* its page digest is taken from the records
								 * of the blocks the workers read */
	/*
	 * Not seal, and the previous stream was written by workers in ranges of
	 * the size used now: where each of its ranges began in its manifest.
	 * The workers then cut and seal this table too, each range against the
	 * stretch the same range held there.
	 */
	int64		base_point;
	int			base_ordinal;
	const int64 *marks;
	int			nmarks;
} PipelineTable;

typedef struct PipelineCallbacks
{
	/*
	 * Decide table i, before any of its rows is read (in order, each table
	 * once): false when none is to be (the table is unchanged: its earlier
	 * stream is referenced), else true and how, in *t.
	 */
	bool		(*prepare) (void *arg, int i, PipelineTable *t);
	/* the writer of table i, asked for when its first bytes arrive */
	ChunkWriter *(*open) (void *arg, int i);
	/* the page digest of table i (pages), asked for when its first records
	 * arrive; NULL: none after all */
	ProofDigest *(*digest) (void *arg, int i);
	/*
	 * table i is written (its writer finished, its digest complete); marks:
	 * where each of its nmarks ranges began in its manifest
	 */
	void		(*done) (void *arg, int i, const TableStreamStats *ts, const ChunkWriterStats *ws,
						 const int64 *marks, int nmarks);
	void	   *arg;
	/*
	 * Every table is to be read (none has an earlier stream in the vault):
	 * the workers may start before the first is decided.
	 */
	bool		all_read;
} PipelineCallbacks;

/* ---- pipeline.c: the caller's side ---- */
extern int	parallel_degree(int requested);
extern int	parallel_backup(VaultCall *call, VaultInfo *vault, ChunkStore *store, Snapshot snapshot,
							const Oid *relids, int ntables, int degree,
							const PipelineCallbacks *cb);

/* ---- scan_worker.c: a backup worker ---- */
extern PGDLLEXPORT void vault_scan_worker_main(Datum arg);

/* ---- feed.c: the caller's side of a parallel restore ---- */
typedef struct RestoreFeed RestoreFeed;

/* a batch of formed rows, as COPY's multi-insert buffers: a worker sends at
 * most this many rows at once, and stops adding at this many bytes */
#define FEED_BATCH_ROWS		1000
#define FEED_BATCH_BYTES	(64 * 1024)

extern RestoreFeed *restore_feed_begin(ChunkStore *store, VaultInfo *vault, Snapshot snapshot,
									   int64 point_id, List *tables, int degree);
extern bool restore_feed_table(RestoreFeed *f, int ordinal, const RowColumn *columns,
							   int ncolumns, bool *formed);
extern int	restore_feed_read(RestoreFeed *f, char *out, int minread, int maxread);
extern bool restore_feed_rows(RestoreFeed *f, const char **tuples, Size *len, uint32 *ntuples,
							  int64 *stream_bytes);
extern void restore_feed_end(RestoreFeed *f);

/* ---- open_worker.c: a restore worker ---- */
extern PGDLLEXPORT void vault_open_worker_main(Datum arg);

#endif							/* VAULT_PARALLEL_H */
