/*-------------------------------------------------------------------------
 * store/store.h
 *	  What is kept and how: vault and point rows, keys, chunks.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_STORE_H
#define VAULT_STORE_H

#include "access/access.h"

#include "chunker.h"
#include "codec.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* ---- catalog.c: the rows of vault_internal ---- */

typedef struct PointInfo
{
	int64		point_id;
	int64		vault_id;
	int64		item_id;
	char	   *kind;			/* "table" or "schema" */
	char	   *item_name;
	char	   *state;
	int			tables;
} PointInfo;

typedef struct PointTable
{
	int			ordinal;
	char	   *schema_name;
	char	   *table_name;
	Oid			source_oid;
	Oid			source_owner;
	Jsonb	   *definition;
	int64		rows;
	int64		logical_bytes;
	int64		chunks;
	char	  **deps;			/* keys of the point's objects it comes after */
	int			ndeps;
} PointTable;

typedef struct ItemInfo
{
	int64		item_id;
	char	   *kind;			/* "table" or "schema" */
	char	   *name;
	char	   *state;			/* protected, on-demand, stopped, soft-deleted */
	int64		policy_id;		/* 0: none */
} ItemInfo;

extern VaultInfo *vault_lookup(VaultCall *call, const char *name);
extern VaultInfo *vault_lookup_for_update(VaultCall *call, const char *name, VaultLevel need,
										  const char *action);
extern ItemInfo *item_lookup(VaultCall *call, VaultInfo *vault, const char *name);
extern PointInfo *point_lookup(VaultCall *call, int64 point_id);
extern List *point_tables(VaultCall *call, int64 point_id);
extern VaultInfo *vault_lookup_by_id(VaultCall *call, int64 vault_id);
extern List *vault_list_all(VaultCall *call);
extern bool vault_has_held_data(VaultCall *call, VaultInfo *vault);
extern void vault_refuse_replica(VaultInfo *vault, const char *action);
extern bool vault_is_geo(const VaultInfo *vault);
extern int	vault_zstd_level(const char *compression);

/* ---- removal.c: the vault's exclusive lock, collecting unreferenced chunks ---- */
extern bool vault_lock_exclusive(VaultCall *call, int64 vault_id, bool skip_busy);
extern int64 chunks_remove_unreferenced(VaultCall *call, int64 vault_id, int64 *freed);

/* ---- usage.c: the figures a vault maintains as it changes ---- */
extern void usage_record(VaultCall *call, int64 vault_id, int64 chunks, int64 chunk_bytes,
						 int64 manifest_bytes, int64 points, int64 logical_bytes);
extern void usage_fold(VaultCall *call, int64 vault_id);

/* ---- audit.c: the audit trail ---- */
extern void audit_record(VaultCall *call, VaultInfo *vault, const char *item, const char *operation,
						 const char *detail);

/* ---- secret.c: memory for secrets, wiped with its context ---- */
extern void secret_wipe_with(MemoryContext cxt, void *ptr, Size len);
extern void *secret_alloc(Size len);

/* ---- platform_key.c: the platform key file ---- */
extern const uint8 *platform_key_get(bool create);
extern int	platform_key_candidates(const uint8 **out, int max);
extern const uint8 *platform_key_rotate_begin(void);
extern void platform_key_rotate_others(bool done, bool changed);

/* ---- keys.c: each vault's data and MAC keys, wrapped and unwrapped ---- */
typedef struct VaultKeys
{
	int64		vault_id;
	uint8		data_key[CODEC_KEY_LEN];
	uint8		mac_key[CODEC_KEY_LEN];
} VaultKeys;

#define VAULT_KEYS_LEN		(2 * CODEC_KEY_LEN)

extern void keys_generate(VaultKeys *keys);
extern bytea *keys_create_wrapped(const char *vault_name, bool first_vault);
extern bytea *keys_wrap_platform(const char *vault_name, const VaultKeys *keys, const uint8 *kek);
extern bytea *keys_wrap(VaultCall *call, VaultInfo *vault, const VaultKeys *keys, int64 key_id);
extern void keys_unwrap(VaultCall *call, VaultInfo *vault, VaultKeys *keys);
extern void keys_gear_table(const VaultKeys *keys, uint64 gear[256]);

/* ---- cmk.c: customer-managed keys ---- */
typedef struct CustomerKey
{
	int64		key_id;
	char	   *name;
	char	   *fingerprint;	/* 40 uppercase hex digits */
	int			bits;
	bool		enabled;
	bytea	   *public_key;		/* dearmored */
} CustomerKey;

extern void cmk_check_name(const char *name);
extern CustomerKey *cmk_lookup(VaultCall *call, const char *name, bool for_update);
extern CustomerKey *cmk_lookup_by_id(VaultCall *call, int64 key_id);
extern bytea *cmk_parse_public(const char *name, const char *armored, char *fingerprint, int *bits);
extern void cmk_check_encrypts(const char *name, bytea *public_key);
extern bytea *cmk_wrap(VaultCall *call, int64 key_id, const uint8 *secret, size_t len);
extern void cmk_unwrap(VaultCall *call, VaultInfo *vault, uint8 *secret, size_t len);

/* ---- key_status.c: each key's last use and failure, in shared memory ---- */
#define KEY_STATUS_ERROR_LEN	256

typedef struct KeyStatus
{
	char		name[64];
	TimestampTz used_at;		/* 0: never since the server started */
	TimestampTz error_at;		/* 0: none */
	char		error[KEY_STATUS_ERROR_LEN];
} KeyStatus;

extern void key_status_shmem_init(void);
extern void key_status_record(const char *name, bool ok, const char *error);
extern int	key_status_snapshot(KeyStatus **out);

/* ---- chunk_cut.c: a stream cut into content-defined chunks ---- */
#define CUTTER_MAX_HINTS	2	/* earlier cuts offered at once */
typedef int (*CutHints) (void *arg, ChunkerHint *hints);
typedef void (*CutChunk) (void *arg, const char *data, size_t len, bool has_hash, uint64 cut_hash);

typedef struct ChunkCutter
{
	const Chunker *chunker;
	char	   *buf;			/* bytes not yet cut */
	size_t		len;
	size_t		cap;
	CutHints	hints;			/* NULL: none */
	CutChunk	chunk;
	void	   *arg;
} ChunkCutter;

extern void chunk_cutter_init(ChunkCutter *c, const Chunker *chunker, CutHints hints,
							  CutChunk chunk, void *arg);
extern void chunk_cutter_write(ChunkCutter *c, const char *data, size_t len);
extern void chunk_cutter_flush(ChunkCutter *c);

/* ---- chunk_io.c: sealing a chunk away from the store (parallel workers) ---- */
typedef struct SealedChunk
{
	uint8		id[CODEC_ID_LEN];
	uint32		plain_len;
	uint32		sealed_len;
	bool		has_hash;		/* the content chose the cut */
	uint64		cut_hash;
	int64		base_no;		/* a delta's base chunk; -1: whole */
	int64		chunk_no;		/* >= 0: the vault has it (nothing sealed) */
} SealedChunk;

extern void chunk_name_and_seal(const VaultKeys *keys, int zstd_level, const char *data,
								size_t len, SealedChunk *c, uint8 *out, uint8 *scratch);

/* ---- chunk_store.c: chunks in; chunk_read.c: chunks out ---- */
typedef struct ChunkStore ChunkStore;
typedef struct ChunkWriter ChunkWriter;
typedef struct ChunkReader ChunkReader;

typedef struct ChunkWriterStats
{
	int64		logical_bytes;	/* stream bytes written */
	int64		chunks;			/* chunk references in the manifest */
	int64		new_chunks;		/* chunks this writer stored */
	int64		delta_chunks;	/* of those, stored as deltas */
	int64		new_bytes;		/* sealed bytes + manifest bytes it stored */
	int64		manifest_bytes; /* of those, the manifest's */
} ChunkWriterStats;

extern ChunkStore *chunk_store_open(VaultCall *call, VaultInfo *vault);
extern ChunkStore *chunk_store_open_keys(VaultCall *call, VaultInfo *vault, const VaultKeys *keys);
extern void chunk_store_keys(ChunkStore *store, VaultKeys *keys);
extern ChunkWriter *chunk_writer_begin(ChunkStore *store, int64 point_id, int ordinal);
extern void chunk_writer_set_base(ChunkWriter *w, int64 prev_point_id, int prev_ordinal);

/* a parallel worker's writer: each chunk, sealed or found, to a sink */
typedef void (*SealedSink) (void *arg, const SealedChunk *c, const uint8 *sealed);
extern ChunkWriter *chunk_writer_begin_sealing(ChunkStore *store, SealedSink sink, void *arg);
extern void chunk_writer_set_base_range(ChunkWriter *w, int64 prev_point_id, int prev_ordinal,
										int64 first, int64 last);
extern void chunk_writer_write(ChunkWriter *w, const char *data, size_t len);
extern int64 chunk_writer_put_sealed(ChunkWriter *w, const SealedChunk *c, const uint8 *sealed);
extern void chunk_writer_append(ChunkWriter *w, const int64 *chunk_nos, int n);
extern void chunk_writer_cut(ChunkWriter *w);
extern void chunk_writer_finish(ChunkWriter *w, ChunkWriterStats *stats);
extern const ChunkWriterStats *chunk_writer_running(ChunkWriter *w);

extern ChunkReader *chunk_reader_begin(ChunkStore *store, int64 point_id, int ordinal,
									   const char *table_label);
extern bool chunk_reader_next(ChunkReader *r, const char **data, size_t *len);
extern bool chunk_reader_skip(ChunkReader *r);
extern int	chunk_reader_read(ChunkReader *r, char *out, int minread, int maxread);

typedef enum ChunkCheck
{
	CHUNK_GOOD,
	CHUNK_MISSING,
	CHUNK_BAD_SEAL,
	CHUNK_BAD_ID,
	CHUNK_BAD_BASE				/* a delta whose base chunk is damaged or gone */
} ChunkCheck;
extern ChunkCheck chunk_store_check(ChunkStore *store, int64 chunk_no, const char **why,
									 size_t *plain_len);
extern List *manifest_chunk_nos(ChunkStore *store, int64 point_id, int ordinal, int segment,
								bool *found);

#endif							/* VAULT_STORE_H */
