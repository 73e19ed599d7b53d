/*-------------------------------------------------------------------------
 * keys.c
 *	  The SQL side of encryption keys: registering customer keys, disabling
 *	  and enabling them, choosing and rotating a vault's key, rotating the
 *	  platform key, and the keys' live status.
 *
 * Owns who may do these and when: registering, disabling and enabling a
 * key needs the global contributor level; choosing a vault's key
 * (vault_configure, only while the vault has never held data, never back
 * to the platform key) and rotating it need contributor on the vault and,
 * on a guarded vault, an approved 'encryption_key' request; rotating the
 * platform key needs a superuser.  No rotation rewrites a chunk: the data
 * and MAC keys stay, only their wrapping changes.  The keys themselves are
 * store/'s (keys.c, cmk.c, platform_key.c).
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_key_add);
PG_FUNCTION_INFO_V1(vault_key_disable);
PG_FUNCTION_INFO_V1(vault_key_enable);
PG_FUNCTION_INFO_V1(vault_key_rotate);
PG_FUNCTION_INFO_V1(vault_platform_key_rotate);
PG_FUNCTION_INFO_V1(vault_key_status);

/* vault_key_add(name, public_key): register a customer key's public part */
Datum
vault_key_add(PG_FUNCTION_ARGS)
{
	char	   *name = vault_arg_text(fcinfo, 0, "key name");
	char	   *armored = vault_arg_text(fcinfo, 1, "public key");
	char		fingerprint[41];
	int			bits;
	bytea	   *public_key;
	VaultCall	call;
	Oid			types[5] = {TEXTOID, BYTEAOID, TEXTOID, INT4OID, OIDOID};
	Datum		values[5];
	int			ret;

	cmk_check_name(name);
	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "registering a customer key");
	public_key = cmk_parse_public(name, armored, fingerprint, &bits);
	cmk_check_encrypts(name, public_key);

	values[0] = CStringGetTextDatum(name);
	values[1] = PointerGetDatum(public_key);
	values[2] = CStringGetTextDatum(fingerprint);
	values[3] = Int32GetDatum(bits);
	values[4] = ObjectIdGetDatum(call.caller);
	vault_as_owner(&call);
	ret = SPI_execute_with_args("SELECT name FROM vault_internal.keys WHERE name = $1 OR fingerprint = $3",
								3, types, values, NULL, true, 1);
	vault_as_caller(&call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "key lookup failed");
	if (SPI_processed > 0)
	{
		char	   *other = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (strcmp(other, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("key \"%s\" already exists", name)));
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("key %s is already registered as \"%s\"", fingerprint, other)));
	}

	vault_as_owner(&call);
	(void) spi_int64("INSERT INTO vault_internal.keys (name, public_key, fingerprint, bits, added_by) "
					 "VALUES ($1, $2, $3, $4, pg_catalog.pg_get_userbyid($5))", 5, types, values, NULL);
	vault_as_caller(&call);
	audit_record(&call, NULL, NULL, "key add", psprintf("key %s: fingerprint %s, %d bits", name, fingerprint, bits));
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* a "key inaccessible" alert for each vault the key wraps */
static void
key_alert_vaults(VaultCall *call, int64 key_id, const char *message, TimestampTz at)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int			n;
	int			i;
	int64	   *vaults;

	values[0] = Int64GetDatum(key_id);
	vaults = spi_int64_array(call, "SELECT vault_id FROM vault_internal.vaults WHERE key_id = $1 ORDER BY vault_id",
							 1, types, values, &n);
	for (i = 0; i < n; i++)
		alert_raise(call, vaults[i], NULL, "key inaccessible", message, at);
}

/* vault_key_disable / vault_key_enable */
static void
key_set_enabled(FunctionCallInfo fcinfo, bool enabled)
{
	char	   *name = vault_arg_text(fcinfo, 0, "key name");
	VaultCall	call;
	CustomerKey *k;
	Oid			types[2] = {INT8OID, BOOLOID};
	Datum		values[2];
	int64		vaults;

	cmk_check_name(name);
	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, enabled ? "enabling a customer key" : "disabling a customer key");
	k = cmk_lookup(&call, name, true);
	if (k->enabled == enabled)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key \"%s\" is already %s", name, enabled ? "enabled" : "disabled")));
	values[0] = Int64GetDatum(k->key_id);
	values[1] = BoolGetDatum(enabled);
	vault_as_owner(&call);
	(void) spi_int64("UPDATE vault_internal.keys SET enabled = $2 WHERE key_id = $1", 2, types, values, NULL);
	vaults = spi_int64("SELECT count(*) FROM vault_internal.vaults WHERE key_id = $1", 1, types, values, NULL);
	vault_as_caller(&call);
	if (!enabled)
		key_alert_vaults(&call, k->key_id,
						 psprintf("key %s was disabled by %s: every operation on the vault fails until it is enabled",
								  name, GetUserNameFromId(call.caller, false)),
						 GetCurrentTimestamp());
	audit_record(&call, NULL, NULL, enabled ? "key enable" : "key disable",
				 psprintf("key %s, used by %lld vault(s)", name, (long long) vaults));
	vault_call_end(&call);
}

Datum
vault_key_disable(PG_FUNCTION_ARGS)
{
	key_set_enabled(fcinfo, false);
	PG_RETURN_VOID();
}

Datum
vault_key_enable(PG_FUNCTION_ARGS)
{
	key_set_enabled(fcinfo, true);
	PG_RETURN_VOID();
}

static const char *
encryption_text(VaultCall *call, int64 key_id)
{
	return key_id == 0 ? "platform" : psprintf("customer:%s", cmk_lookup_by_id(call, key_id)->name);
}

static CustomerKey *
usable_key(VaultCall *call, const char *name)
{
	CustomerKey *k = cmk_lookup(call, name, false);

	if (!k->enabled)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key \"%s\" is disabled", k->name),
				 errhint("vault_key_enable('%s') first.", k->name)));
	return k;
}

static void
vault_set_key(VaultCall *call, VaultInfo *vault, int64 key_id, bytea *wrapped)
{
	Oid			types[3] = {INT8OID, INT8OID, BYTEAOID};
	Datum		values[3];

	if (vault_is_geo(vault))
		geo_mark_key(call, key_id);
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = Int64GetDatum(key_id);
	values[2] = PointerGetDatum(wrapped);
	vault_as_owner(call);
	(void) spi_int64("UPDATE vault_internal.vaults SET key_source = 'customer', key_id = $2, wrapped_keys = $3 "
					 "WHERE vault_id = $1", 3, types, values, NULL);
	vault_as_caller(call);
}

/*
 * vault_configure(vault, encryption_key => name): before the vault's first
 * item only, a customer key wraps fresh data and MAC keys (so that nothing
 * was ever encrypted under keys the platform key also wrapped); the
 * platform-wrapped copy is gone with the old row.  Never back to
 * 'platform'.  The caller has locked the vault for update.
 */
void
encryption_configure(VaultCall *call, VaultInfo *vault, const char *key_name)
{
	CustomerKey *k;
	VaultKeys  *keys;

	if (strcmp(key_name, "platform") == 0)
	{
		if (vault->key_id != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("vault \"%s\" uses customer key \"%s\" and cannot go back to platform keys",
							vault->name, cmk_lookup_by_id(call, vault->key_id)->name),
					 errhint("vault_key_rotate(vault, new_key) moves it to another customer key.")));
		return;
	}
	k = usable_key(call, key_name);
	if (k->key_id == vault->key_id)
		return;

	if (vault_has_held_data(call, vault))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" already holds data: its encryption key can be chosen only before its first item",
						vault->name),
				 vault->key_id != 0 ?
				 errhint("vault_key_rotate('%s', '%s') re-wraps its keys under another customer key.",
						 vault->name, key_name) :
				 errhint("Create a new vault, choose its key, then protect the items there.")));
	(void) guard_require(call, vault, "encryption_key", "choosing the vault's encryption key");

	keys = secret_alloc(sizeof(VaultKeys));
	keys_generate(keys);
	vault_set_key(call, vault, k->key_id, keys_wrap(call, vault, keys, k->key_id));
	audit_record(call, vault, NULL, "configure",
				 psprintf("encryption %s -> customer:%s (new data and MAC keys)",
						  encryption_text(call, vault->key_id), k->name));
}

/*
 * vault_key_rotate(vault, new_key): the vault's data and MAC keys, as they
 * are, wrapped under another customer key; no chunk changes.  The old key
 * must still be accessible (it unwraps them).
 */
Datum
vault_key_rotate(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *key_name = vault_arg_text(fcinfo, 1, "new key");
	VaultCall	call;
	VaultInfo  *vault;
	CustomerKey *k;
	VaultKeys  *keys;
	const char *before;

	cmk_check_name(key_name);
	vault_call_begin(&call);
	vault = vault_lookup_for_update(&call, vname, VAULT_CONTRIBUTOR, "rotating the vault's key");
	if (vault->key_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" uses the platform key", vault->name),
				 errhint("A vault's customer key is chosen with vault_configure(vault, encryption_key => ...) before its first item; "
						 "the platform key rotates with vault_platform_key_rotate().")));
	k = usable_key(&call, key_name);
	if (k->key_id == vault->key_id)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" already uses key \"%s\"", vault->name, k->name)));
	(void) guard_require(&call, vault, "encryption_key", "rotating the vault's key");

	before = encryption_text(&call, vault->key_id);
	keys = secret_alloc(sizeof(VaultKeys));
	keys_unwrap(&call, vault, keys);
	vault_set_key(&call, vault, k->key_id, keys_wrap(&call, vault, keys, k->key_id));
	audit_record(&call, vault, NULL, "key rotate", psprintf("encryption %s -> customer:%s", before, k->name));
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/*
 * This database's share of a platform key rotation: every platform-keyed
 * vault's keys re-wrapped under the keyring's current key (waiting for the
 * backups running in them; no vault is created meanwhile).  Returns how
 * many.  Called by vault_platform_key_rotate here and by its worker
 * (worker/rewrap.c) in each other database.
 */
int64
platform_rewrap_here(VaultCall *call)
{
	const uint8 *kek = platform_key_get(false);
	int64	   *vaults;
	int			n;
	int			i;

	vault_as_owner(call);
	if (SPI_execute("LOCK TABLE vault_internal.vaults IN SHARE ROW EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not lock the vaults");
	vault_as_caller(call);
	vaults = spi_int64_array(call, call->catalog >= VAULT_CATALOG_1_1 ?
							 "SELECT vault_id FROM vault_internal.vaults WHERE key_id IS NULL ORDER BY vault_id" :
							 "SELECT vault_id FROM vault_internal.vaults ORDER BY vault_id",
							 0, NULL, NULL, &n);
	for (i = 0; i < n; i++)
	{
		VaultInfo  *v = vault_lookup_by_id(call, vaults[i]);
		VaultKeys  *keys = secret_alloc(sizeof(VaultKeys));
		Oid			types[2] = {INT8OID, BYTEAOID};
		Datum		values[2];

		keys_unwrap(call, v, keys);
		values[0] = Int64GetDatum(v->vault_id);
		values[1] = PointerGetDatum(keys_wrap_platform(v->name, keys, kek));
		vault_as_owner(call);
		(void) spi_int64("UPDATE vault_internal.vaults SET wrapped_keys = $2 WHERE vault_id = $1",
						 2, types, values, NULL);
		vault_as_caller(call);
	}
	return n;
}

/*
 * Run the worker that re-wraps database slot->dboid's vaults, and wait for
 * it; its outcome is in the slot.
 */
static void
rewrap_other_database(dsm_segment *seg, int index, RewrapSlot *slot)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "vault");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "vault_rewrap_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "vault key rewrap for database %u", slot->dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "vault key rewrap");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	memcpy(worker.bgw_extra, &index, sizeof(index));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle) ||
		WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
	{
		slot->state = REWRAP_FAILED;
		strlcpy(slot->error, "could not start a background worker (see max_worker_processes)",
				sizeof(slot->error));
		return;
	}
	if (WaitForBackgroundWorkerShutdown(handle) != BGWH_STOPPED)
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster exited during the platform key rotation")));
	if (slot->state == REWRAP_PENDING)
	{
		slot->state = REWRAP_FAILED;
		strlcpy(slot->error, "the worker stopped without a word", sizeof(slot->error));
	}
}

/*
 * vault_platform_key_rotate(): a new platform key, every platform-keyed
 * vault re-wrapped under it, here in this transaction and in every other
 * database of the cluster by a worker (the key file serves them all).  The
 * old keys leave the key file at commit only if every database was done
 * (store/platform_key.c).  No chunk changes.
 */
Datum
vault_platform_key_rotate(PG_FUNCTION_ARGS)
{
	VaultCall	call;
	int64		here;
	int64		elsewhere = 0;
	int			ndb;
	int			i;
	int			failed = 0;
	bool		changed = false;
	dsm_segment *seg;
	RewrapSlot *slots;
	Oid		   *dbs;
	int			ret;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to rotate the platform key"),
				 errdetail("Rotating the platform key needs a superuser.")));
	vault_call_begin(&call);
	(void) platform_key_rotate_begin();
	here = platform_rewrap_here(&call);

	{
		Oid			types[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(MyDatabaseId)};

		ret = SPI_execute_with_args("SELECT oid FROM pg_catalog.pg_database WHERE datallowconn AND oid <> $1 "
									"ORDER BY oid", 1, types, values, NULL, true, 0);
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list the databases");
	ndb = (int) SPI_processed;
	dbs = palloc(sizeof(Oid) * Max(ndb, 1));
	for (i = 0; i < ndb; i++)
	{
		bool		isnull;

		dbs[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	seg = dsm_create(sizeof(RewrapSlot) * Max(ndb, 1), 0);
	slots = dsm_segment_address(seg);
	memset(slots, 0, sizeof(RewrapSlot) * Max(ndb, 1));
	for (i = 0; i < ndb; i++)
	{
		slots[i].dboid = dbs[i];
		rewrap_other_database(seg, i, &slots[i]);
		if (slots[i].state == REWRAP_DONE)
		{
			elsewhere += slots[i].vaults;
			changed |= slots[i].vaults > 0;
		}
		else if (slots[i].state == REWRAP_FAILED)
		{
			failed++;
			ereport(WARNING,
					(errmsg("vault: the vaults of database %u were not re-wrapped: %s", slots[i].dboid,
							slots[i].error),
					 errdetail("The key file keeps the old platform key beside the new one until a rotation reaches every database."),
					 errhint("Make the database reachable and run vault_platform_key_rotate() again.")));
		}
	}
	platform_key_rotate_others(failed == 0, changed);
	dsm_detach(seg);

	audit_record(&call, NULL, NULL, "platform key rotate",
				 psprintf("%lld vault(s) here and %lld in %d other database(s) re-wrapped%s",
						  (long long) here, (long long) elsewhere, ndb,
						  failed ? psprintf("; %d database(s) failed, old key kept", failed) : ""));
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* A key's status as (name, used_at, error, error_at); no time is NULL. */
static void
key_status_datums(const KeyStatus *st, Datum *values, bool *nulls)
{
	values[0] = CStringGetTextDatum(st->name);
	values[1] = TimestampTzGetDatum(st->used_at);
	values[2] = CStringGetTextDatum(st->error);
	values[3] = TimestampTzGetDatum(st->error_at);
	nulls[0] = false;
	nulls[1] = st->used_at == 0;
	nulls[2] = nulls[3] = st->error_at == 0;
}

/* vault_internal.key_status(): this database's keys' live status */
Datum
vault_key_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KeyStatus  *st;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	n = key_status_snapshot(&st);
	for (i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4];

		key_status_datums(&st[i], values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/*
 * The scheduler's round: the keys' status from shared memory into their
 * rows, so that it outlives a restart.  Rows change only when something
 * newer happened.
 */
void
key_status_persist(TimestampTz now)
{
	VaultCall	call;
	KeyStatus  *st;
	int			n;
	int			i;

	vault_call_begin(&call);
	n = call.catalog >= VAULT_CATALOG_1_1 ? key_status_snapshot(&st) : 0;
	for (i = 0; i < n; i++)
	{
		Oid			types[4] = {TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID};
		Datum		values[4];
		bool		nulls[4];

		int64		failed_key;

		key_status_datums(&st[i], values, nulls);
		vault_as_owner(&call);
		/* the key's id when this round brings a new failure */
		failed_key = spi_int64("WITH k AS (SELECT key_id, $4 > coalesce(last_error_at, '-infinity') AS failed "
							   "  FROM vault_internal.keys WHERE name = $1 AND NOT replica), "
							   "u AS (UPDATE vault_internal.keys SET "
							   "  last_used_at = greatest(last_used_at, $2), "
							   "  last_error = CASE WHEN $4 > coalesce(last_error_at, '-infinity') THEN $3 ELSE last_error END, "
							   "  last_error_at = greatest(last_error_at, $4) "
							   "WHERE name = $1 AND NOT replica AND ($2 > coalesce(last_used_at, '-infinity') "
							   "  OR $4 > coalesce(last_error_at, '-infinity')) RETURNING 1) "
							   "SELECT key_id FROM k WHERE failed AND (SELECT count(*) FROM u) >= 0",
							   4, types, values, nulls);
		vault_as_caller(&call);
		if (failed_key > 0)
			key_alert_vaults(&call, failed_key,
							 psprintf("key %s could not be used: %s", st[i].name, st[i].error), st[i].error_at);
	}
	vault_call_end(&call);
}
