/*-------------------------------------------------------------------------
 * vault.c
 *	  Module entry: PG_MODULE_MAGIC, _PG_init and the GUCs.
 *
 * Owns only the settings; every capability lives in its own file.
 *-------------------------------------------------------------------------
 */
#include "vault.h"

#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

char	   *vault_platform_key_file = NULL;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("vault.platform_key_file",
							   "Path of the platform key that wraps every vault's keys.",
							   "Relative paths are relative to the data directory. "
							   "The file is created with mode 0600 on first use.",
							   &vault_platform_key_file,
							   "vault_platform.key",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	MarkGUCPrefixReserved("vault");
}
