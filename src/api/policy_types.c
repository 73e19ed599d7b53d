/*-------------------------------------------------------------------------
 * policy_types.c
 *	  The SQL types vault_schedule and vault_retention, and the time-zone
 *	  glue between their civil-time rules and real instants.
 *
 * Owns: the types' input/output/receive/send functions (a value is stored
 * as its canonical text, so what a user reads back is what runs), turning
 * parse errors into ereports that point at the bad token, mapping civil
 * times to instants in a policy's time zone across daylight-saving changes
 * (a skipped wall-clock time runs at the first instant after the gap, a
 * repeated one runs at its first occurrence), and the pure functions
 * vault_next_run and vault_retention_keep.  Parsing and calendar rules
 * live in schedule.c / retention.c; this file must not touch storage.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_schedule_in);
PG_FUNCTION_INFO_V1(vault_schedule_out);
PG_FUNCTION_INFO_V1(vault_schedule_recv);
PG_FUNCTION_INFO_V1(vault_schedule_send);
PG_FUNCTION_INFO_V1(vault_retention_in);
PG_FUNCTION_INFO_V1(vault_retention_out);
PG_FUNCTION_INFO_V1(vault_retention_recv);
PG_FUNCTION_INFO_V1(vault_retention_send);
PG_FUNCTION_INFO_V1(vault_next_run);
PG_FUNCTION_INFO_V1(vault_retention_keep);

#define POLICY_TEXT_MAX 1024	/* longer text is refused before parsing */
#define SECS_PER_MARGIN (18 * 3600) /* beyond any UTC offset ever used */

static const char *const rule_names[RET_RULES] = {"daily", "weekly", "monthly", "yearly"};

/* ---- parsing with errors that point at the token ---- */

static void
policy_text_error(const char *what, const char *text, size_t len, const PolicyError *err)
{
	char	   *shown = pnstrdup(text, len);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid %s \"%s\": %s", what, shown, err->message),
			 errdetail("The error is at character %d: %s", err->offset + 1,
					   err->offset < (int) len ? pnstrdup(text + err->offset, len - err->offset)
					   : "(end of text)"),
			 strcmp(what, "schedule") == 0 ?
			 errhint("Write a cron expression such as \"30 2 * * *\", or \"daily at 02:00\", "
					 "\"weekly on sun,wed at 23:30\", \"every 4 hours from 08:00 for 12 hours\" "
					 "or \"every 15 minutes\".") :
			 errhint("Write comma-separated rules such as \"daily 30, weekly 12 on sun, "
					 "monthly 12 on day 1, yearly 10 in jan\".")));
}

static void
check_length(const char *what, size_t len)
{
	if (len > POLICY_TEXT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s text is too long (%zu bytes, at most %d)", what, len, POLICY_TEXT_MAX)));
}

void
policy_parse_schedule(const char *text, size_t len, VaultSchedule *out)
{
	PolicyError err;

	check_length("schedule", len);
	if (!schedule_parse(text, len, out, &err))
		policy_text_error("schedule", text, len, &err);
}

void
policy_parse_retention(const char *text, size_t len, VaultRetention *out)
{
	PolicyError err;

	check_length("retention", len);
	if (!retention_parse(text, len, out, &err))
		policy_text_error("retention rule", text, len, &err);
}

/* a stored value (canonical text) back into its parsed form */
void
policy_schedule_from_datum(Datum d, VaultSchedule *out)
{
	text	   *t = DatumGetTextPP(d);

	policy_parse_schedule(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), out);
}

void
policy_retention_from_datum(Datum d, VaultRetention *out)
{
	text	   *t = DatumGetTextPP(d);

	policy_parse_retention(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), out);
}

static text *
schedule_canonical(const char *in, size_t len)
{
	VaultSchedule s;
	char		buf[512];

	policy_parse_schedule(in, len, &s);
	schedule_format(&s, buf, sizeof(buf));
	return cstring_to_text(buf);
}

static text *
retention_canonical(const char *in, size_t len)
{
	VaultRetention r;
	char		buf[512];

	policy_parse_retention(in, len, &r);
	retention_format(&r, buf, sizeof(buf));
	return cstring_to_text(buf);
}

/* ---- type I/O: the value is its canonical text ---- */

Datum
vault_schedule_in(PG_FUNCTION_ARGS)
{
	char	   *in = PG_GETARG_CSTRING(0);

	PG_RETURN_TEXT_P(schedule_canonical(in, strlen(in)));
}

Datum
vault_schedule_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(TextDatumGetCString(PG_GETARG_DATUM(0)));
}

Datum
vault_schedule_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			nbytes;
	char	   *in = pq_getmsgtext(buf, buf->len - buf->cursor, &nbytes);

	PG_RETURN_TEXT_P(schedule_canonical(in, nbytes));
}

Datum
vault_schedule_send(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendtext(&buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
vault_retention_in(PG_FUNCTION_ARGS)
{
	char	   *in = PG_GETARG_CSTRING(0);

	PG_RETURN_TEXT_P(retention_canonical(in, strlen(in)));
}

Datum
vault_retention_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(TextDatumGetCString(PG_GETARG_DATUM(0)));
}

Datum
vault_retention_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			nbytes;
	char	   *in = pq_getmsgtext(buf, buf->len - buf->cursor, &nbytes);

	PG_RETURN_TEXT_P(retention_canonical(in, nbytes));
}

Datum
vault_retention_send(PG_FUNCTION_ARGS)
{
	return vault_schedule_send(fcinfo);
}

/* ---- time zones: civil times <-> instants ---- */

pg_tz *
policy_timezone(const char *name)
{
	pg_tz	   *tz = pg_tzset(name);

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Use a name from pg_timezone_names, such as \"UTC\" or \"Europe/Berlin\".")));
	return tz;
}

static void
check_finite(TimestampTz ts, const char *what)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite time", what)));
}

/* the local wall-clock time of an instant (seconds rounded down) */
void
policy_civil_at(TimestampTz ts, pg_tz *tz, VaultCivil *c)
{
	int64		secs = ts / USECS_PER_SEC - (ts % USECS_PER_SEC < 0);
	pg_time_t	t = (pg_time_t) (secs + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
	struct pg_tm *tm = pg_localtime(&t, tz);

	if (tm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("time is out of range for time zone conversion")));
	c->year = tm->tm_year + 1900;
	c->month = tm->tm_mon + 1;
	c->day = tm->tm_mday;
	c->hour = tm->tm_hour;
	c->minute = tm->tm_min;
	c->second = tm->tm_sec;
}

/*
 * The instant at which the wall clock of tz shows c.  Walks the zone's
 * offset changes around c: the earliest instant that shows c wins (a
 * repeated time is its first occurrence); a time skipped by a forward jump
 * maps to the jump itself, the first instant after the gap.
 */
TimestampTz
policy_instant_of(const VaultCivil *c, pg_tz *tz)
{
	int64		local = civil_day_number(c->year, c->month, c->day) * SECS_PER_DAY +
		c->hour * 3600 + c->minute * 60 + c->second;
	pg_time_t	t = local - SECS_PER_MARGIN;
	bool		first = true;
	int			i;

	for (i = 0; i < 64; i++)
	{
		long		before_off = 0;
		long		after_off = 0;
		int			before_dst;
		int			after_dst;
		pg_time_t	boundary = 0;
		int			r = pg_next_dst_boundary(&t, &before_off, &before_dst, &boundary,
											 &after_off, &after_dst, tz);
		pg_time_t	cand;

		if (r < 0)
		{
			/* no transition data: the offset in force at the local time */
			struct pg_tm *tm;

			t = local;
			tm = pg_localtime(&t, tz);
			before_off = tm ? tm->tm_gmtoff : 0;
			return time_t_to_timestamptz(local - before_off);
		}
		cand = local - before_off;
		if ((first || cand >= t) && (r == 0 || cand < boundary))
			return time_t_to_timestamptz(cand);
		if (r == 0)
			break;
		/* a forward jump over c: the first instant after the gap */
		if (after_off > before_off && local >= boundary + before_off && local < boundary + after_off)
			return time_t_to_timestamptz(boundary);
		if (boundary > local + SECS_PER_MARGIN)
			break;
		t = boundary;
		first = false;
	}
	elog(ERROR, "could not map %04d-%02d-%02d %02d:%02d to an instant",
		 c->year, c->month, c->day, c->hour, c->minute);
	return 0;					/* keep compiler quiet */
}

/* the microseconds past the whole second that civil times drop */
TimestampTz
policy_subsecond(TimestampTz ts)
{
	return ((ts % USECS_PER_SEC) + USECS_PER_SEC) % USECS_PER_SEC;
}

/* The first run of s strictly after 'after', in time zone tz. */
TimestampTz
policy_next_run(const VaultSchedule *s, TimestampTz after, pg_tz *tz)
{
	VaultCivil	c;
	VaultCivil	next;
	int			i;

	policy_civil_at(after, tz, &c);
	/* in a repeated hour the civil search can land before 'after': go on */
	for (i = 0; i < 10000; i++)
	{
		TimestampTz at;

		if (!schedule_next_civil(s, &c, &next))
			break;
		at = policy_instant_of(&next, tz);
		if (at > after)
			return at;
		c = next;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("the schedule has no run after the given time")));
	return 0;					/* keep compiler quiet */
}

/* ---- SQL functions ---- */

/* vault_next_run(schedule, after, timezone) -> timestamptz */
Datum
vault_next_run(PG_FUNCTION_ARGS)
{
	VaultSchedule s;
	TimestampTz after;
	pg_tz	   *tz;

	vault_arg_not_null(fcinfo, 0, "schedule");
	vault_arg_not_null(fcinfo, 1, "after");
	tz = policy_timezone(vault_arg_text(fcinfo, 2, "timezone"));
	policy_schedule_from_datum(PG_GETARG_DATUM(0), &s);
	after = PG_GETARG_TIMESTAMPTZ(1);
	check_finite(after, "after");
	PG_RETURN_TIMESTAMPTZ(policy_next_run(&s, after, tz));
}

/*
 * Keep decisions for a set of point times: per point, the rules that select
 * it and when each lets it go, all in time zone tz.  keep[i] for times[i].
 */
void
policy_retention_keep(const VaultRetention *r, const TimestampTz *times, int n, pg_tz *tz,
					  RetentionKeep *keep)
{
	VaultCivil *civil = palloc(sizeof(VaultCivil) * Max(n, 1));
	RetentionWork *work = palloc(sizeof(RetentionWork) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		policy_civil_at(times[i], tz, &civil[i]);
	retention_keep(r, civil, n, keep, work);
	pfree(civil);
	pfree(work);
}

/*
 * vault_retention_keep(rule, points timestamptz[], now, timezone)
 *	 -> (point_time, kept, kept_by text[], selected_by text[], keep_until)
 */
Datum
vault_retention_keep(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	VaultRetention r;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	TimestampTz now;
	TimestampTz *times;
	RetentionKeep *keep;
	pg_tz	   *tz;
	int			i;

	vault_arg_not_null(fcinfo, 0, "retention rule");
	vault_arg_not_null(fcinfo, 1, "points");
	vault_arg_not_null(fcinfo, 2, "now");
	tz = policy_timezone(vault_arg_text(fcinfo, 3, "timezone"));
	policy_retention_from_datum(PG_GETARG_DATUM(0), &r);
	now = PG_GETARG_TIMESTAMPTZ(2);
	check_finite(now, "now");
	arr = PG_GETARG_ARRAYTYPE_P(1);
	deconstruct_array(arr, TIMESTAMPTZOID, sizeof(TimestampTz), true, TYPALIGN_DOUBLE,
					  &elems, &elem_nulls, &n);
	times = palloc(sizeof(TimestampTz) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("point times must not contain NULL")));
		times[i] = DatumGetTimestampTz(elems[i]);
		check_finite(times[i], "a point time");
	}
	keep = palloc0(sizeof(RetentionKeep) * Max(n, 1));
	policy_retention_keep(&r, times, n, tz, keep);

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < n; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		Datum		kept_by[RET_RULES];
		Datum		selected_by[RET_RULES];
		int			nkept = 0;
		int			nsel = 0;
		int			b;

		for (b = 0; b < RET_RULES; b++)
		{
			if (!(keep[i].rules & (1 << b)))
				continue;
			selected_by[nsel++] = CStringGetTextDatum(rule_names[b]);
			if (policy_instant_of(&keep[i].rule_until[b], tz) + policy_subsecond(times[i]) > now)
				kept_by[nkept++] = CStringGetTextDatum(rule_names[b]);
		}
		values[0] = TimestampTzGetDatum(times[i]);
		values[1] = BoolGetDatum(nkept > 0);
		values[2] = PointerGetDatum(construct_array(kept_by, nkept, TEXTOID, -1, false, TYPALIGN_INT));
		values[3] = PointerGetDatum(construct_array(selected_by, nsel, TEXTOID, -1, false, TYPALIGN_INT));
		if (keep[i].rules)
			values[4] = TimestampTzGetDatum(policy_instant_of(&keep[i].until, tz) +
											policy_subsecond(times[i]));
		else
			nulls[4] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
