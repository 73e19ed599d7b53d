/*-------------------------------------------------------------------------
 * access/access.h
 *	  Who is calling and what they may do: the call (caller, extension
 *	  owner, locked search_path, SPI), argument checks, access levels.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_ACCESS_H
#define VAULT_ACCESS_H

#include "vault.h"

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"

/* ---- access.c: who is calling, acting as the extension owner, arguments, SPI ---- */
/* the version of the extension's SQL objects in this database */
#define VAULT_CATALOG_1_0	10
#define VAULT_CATALOG_1_1	11

typedef struct VaultCall
{
	Oid			caller;			/* role at entry */
	int			catalog;		/* VAULT_CATALOG_*: what this database's
								 * extension script has created */
	Oid			owner;			/* extension owner: does the storage work */
	int			guc_nestlevel;	/* locked search_path */
	Oid			saved_userid;
	int			saved_sec_context;
	int			as_owner_depth;
} VaultCall;

extern void vault_call_begin(VaultCall *call);
extern void vault_call_end(VaultCall *call);
extern void vault_as_owner(VaultCall *call);
extern void vault_as_caller(VaultCall *call);
extern bool vault_caller_is_superuser(VaultCall *call);
extern char *vault_arg_text(FunctionCallInfo fcinfo, int argno, const char *what);
extern void vault_arg_not_null(FunctionCallInfo fcinfo, int argno, const char *what);
extern TimestampTz vault_arg_now(FunctionCallInfo fcinfo);
extern char *vault_schema_name(void);
extern void vault_check_name(const char *name);
extern char **vault_text_array(Datum array, int *n);
extern int64 spi_int64(const char *sql, int nargs, Oid *types, Datum *values, bool *isnull);
extern int64 *spi_int64_array(VaultCall *call, const char *sql, int nargs, Oid *types,
							  Datum *values, int *n);

/* ---- guard.c: critical operations need a second person's approval ---- */
extern bool guard_is_operation(const char *op);
extern int64 guard_require(VaultCall *call, VaultInfo *vault, const char *op, const char *action);

/* ---- roles.c: access levels on PostgreSQL roles ---- */
typedef enum VaultLevel
{
	VAULT_NONE = 0,
	VAULT_READER,				/* sees vaults, items, points, policies, jobs */
	VAULT_OPERATOR,				/* + backup, restore, export, verify, protect */
	VAULT_CONTRIBUTOR,			/* + vaults, policies, unprotect, delete data */
	VAULT_OWNER					/* + drop the vault, grant and revoke on it */
} VaultLevel;

extern const char *vault_level_name(VaultLevel level);
extern VaultLevel vault_parse_grant_level(const char *text);
extern VaultLevel vault_global_level(Oid role);
extern VaultLevel vault_role_level(VaultCall *call, VaultInfo *vault, Oid role);
extern void vault_require(VaultCall *call, VaultInfo *vault, VaultLevel need, const char *action);
extern void vault_require_global(VaultCall *call, VaultLevel need, const char *action);

#endif							/* VAULT_ACCESS_H */
