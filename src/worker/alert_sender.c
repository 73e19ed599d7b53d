/*-------------------------------------------------------------------------
 * alert_sender.c
 *	  Handing each new alert to vault.alert_command: the hook for mail,
 *	  chat or paging.
 *
 * Owns running the command, once per alert, with the alert's JSON on its
 * standard input, from the scheduler's round, each alert claimed in a
 * transaction of its own that commits before the command runs (a crash
 * during the run leaves it claimed: never handed over twice) and its
 * outcome recorded in another (a failure is retried with back-off by a
 * later round).  Which alerts are due is api/alerts.c's.
 *-------------------------------------------------------------------------
 */
#include "worker/worker.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "port.h"
#include "storage/fd.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* run the command with json on stdin: NULL, or why it failed */
static char *
alert_command_run(const char *json)
{
	FILE	   *fh;
	int			rc;

	fflush(NULL);
	errno = 0;
	fh = OpenPipeStream(vault_alert_command, "w");
	if (fh == NULL)
		return psprintf("could not run vault.alert_command: %m");
	if (fputs(json, fh) < 0 || fputc('\n', fh) == EOF)
	{
		(void) ClosePipeStream(fh);
		return psprintf("could not write to vault.alert_command: %m");
	}
	rc = ClosePipeStream(fh);
	if (rc != 0)
		return psprintf("vault.alert_command %s", wait_result_to_str(rc));
	return NULL;
}

/*
 * Every alert due at 'now' to be handed over, one after the other (at most
 * 100 a round).  Nothing while vault.alert_command is empty.
 */
void
alert_sender_round(TimestampTz now)
{
	int			n;

	for (n = 0; n < 100; n++)
	{
		char	   *json = NULL;
		char	   *error;
		int64		alert;

		if (vault_alert_command == NULL || vault_alert_command[0] == '\0')
			return;
		CHECK_FOR_INTERRUPTS();
		worker_begin_xact();
		alert = alerts_claim_next(now, &json);
		worker_commit_xact();
		if (alert == 0)
			return;
		error = alert_command_run(json);
		if (error)
			ereport(WARNING,
					(errmsg("alert %lld was not handed over: %s", (long long) alert, error),
					 errhint("It is tried again later; vault_alerts shows it meanwhile.")));
		worker_begin_xact();
		alerts_sent(alert, error, GetCurrentTimestamp());
		worker_commit_xact();
	}
}
