-- The policy types: vault_schedule and vault_retention, vault_next_run across
-- daylight-saving changes in three time zones, and vault_retention_keep over
-- two simulated years of daily backups.  Every expected time below was worked
-- out by hand first (see the comments); the output must match it.
SET TimeZone = 'UTC';

-- ---------------------------------------------------------------------------
-- schedules: accepted forms print in one canonical form
-- ---------------------------------------------------------------------------
SELECT s AS input, s::vault_schedule AS canonical
FROM (VALUES ('*/15 * * * *'), ('0 2 * * *'), ('30 23 * * sun,wed'), ('0 0 1 jan-mar,dec *'),
			 ('0 8-18/2 * * mon-fri'), ('0 0 13 * fri'), ('0 0 * * 7'),
			 ('daily at 02:00'), ('Daily At 2:00'), ('daily at 02:30,14:30'),
			 ('weekly on sun,wed at 23:30'), ('weekly on Wednesday,sunday at 23:30'),
			 ('every 4 hours from 08:00 for 12 hours'), ('every 4 hours'), ('hourly'),
			 ('every 15 minutes'), ('every 1 minute')) v(s);

-- the canonical text is a fixed point, and the types cast to and from text
SELECT count(*) AS not_fixed
FROM (VALUES ('*/15 * * * *'), ('0 8-18/2 * * mon-fri'), ('every 4 hours'), ('weekly on wed,sun at 23:30')) v(s)
WHERE s::vault_schedule::text::vault_schedule::text <> s::vault_schedule::text;
SELECT 'daily 30, weekly 12 on sun'::text::vault_retention;

-- malformed schedules: the message names the problem, the detail shows where
SELECT '61 * * * *'::vault_schedule;
SELECT '0 24 * * *'::vault_schedule;
SELECT '* * * *'::vault_schedule;
SELECT '0 0 * foo *'::vault_schedule;
SELECT '0 0 30 2 *'::vault_schedule;
SELECT '*/0 * * * *'::vault_schedule;
SELECT 'daily at 25:00'::vault_schedule;
SELECT 'daily at 02:00,03:30'::vault_schedule;
SELECT 'weekly on funday at 01:00'::vault_schedule;
SELECT 'every 0 minutes'::vault_schedule;
SELECT 'every 4 hours from 20:00 for 8 hours'::vault_schedule;
SELECT 'fortnightly'::vault_schedule;
SELECT ''::vault_schedule;
SELECT repeat('1', 2000)::vault_schedule;

-- ---------------------------------------------------------------------------
-- next runs across daylight-saving changes.  Each case starts at 'start' and
-- follows n runs; local is the policy's wall clock, utc the instant.
--
-- Europe/Berlin 2026: Mar 29 02:00 CET -> 03:00 CEST; Oct 25 03:00 CEST -> 02:00 CET
--  b1 daily at 02:30 over the spring gap: Mar 28 02:30 CET (01:30 UTC); Mar 29
--     02:30 does not exist -> once, at the end of the gap, 03:00 CEST (01:00 UTC);
--     Mar 30 and 31 02:30 CEST (00:30 UTC)
--  b2 daily at 02:30 over the autumn repeat: Oct 24 02:30 CEST (00:30 UTC); Oct 25
--     02:30 runs once, at its first occurrence (CEST, 00:30 UTC); Oct 26, 27 02:30
--     CET (01:30 UTC)
--  b3 every 30 minutes from 01:15 CET on Mar 29: 01:30 CET (00:30 UTC); 02:00 and
--     02:30 are skipped -> one run at 03:00 CEST (01:00 UTC); 03:30, 04:00, 04:30
--  b4 every 30 minutes from 02:15 CEST on Oct 25: 02:30 CEST (00:30 UTC); the
--     repeated 02:00-02:59 does not run again; 03:00 CET (02:00 UTC), 03:30, 04:00
-- America/New_York 2026: Mar 8 02:00 EST -> 03:00 EDT; Nov 1 02:00 EDT -> 01:00 EST
--  n1 cron 0 2 * * * over the gap: Mar 7 02:00 EST (07:00 UTC); Mar 8 -> 03:00 EDT
--     (07:00 UTC); Mar 9 02:00 EDT (06:00 UTC)
--  n2 daily at 01:30 over the repeat: Nov 1 01:30 EDT (05:30 UTC) once; Nov 2, 3
--     01:30 EST (06:30 UTC)
--  n3 every 15 minutes, starting inside the second 01:00-01:59 (01:10 EST, 06:10
--     UTC): the first pass of that hour is behind, so nothing runs until 02:00 EST
--     (07:00 UTC); then 02:15, 02:30
-- Australia/Lord_Howe 2026 (half-hour shifts): Apr 5 02:00 +11 -> 01:30 +10:30;
--     Oct 4 02:00 +10:30 -> 02:30 +11
--  l1 daily at 01:45 over the repeat: Apr 4 01:45 +11 (Apr 3 14:45 UTC); Apr 5
--     01:45 first occurrence +11 (Apr 4 14:45 UTC); Apr 6 01:45 +10:30 (Apr 5 15:15 UTC)
--  l2 daily at 02:15 over the gap: Oct 3 02:15 +10:30 (Oct 2 15:45 UTC); Oct 4
--     02:15 does not exist -> 02:30 +11 (Oct 3 15:30 UTC); Oct 5 02:15 +11 (Oct 4 15:15 UTC)
-- UTC
--  u1 cron 0 0 29 2 *: Feb 29 2028 00:00
--  u2 weekly on sun,wed at 23:30 from Thu Dec 3 2026: Sun Dec 6, Wed Dec 9, Sun Dec 13
--  u3 every 4 hours from 08:00 for 12 hours from Dec 3 13:00: 16:00, 20:00, Dec 4 08:00
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE dst_cases (id text, tz text, schedule vault_schedule, start timestamptz, n int);
INSERT INTO dst_cases VALUES
	('b1', 'Europe/Berlin', 'daily at 02:30', '2026-03-27 12:00+00', 4),
	('b2', 'Europe/Berlin', 'daily at 02:30', '2026-10-23 12:00+00', 4),
	('b3', 'Europe/Berlin', 'every 30 minutes', '2026-03-29 00:15+00', 5),
	('b4', 'Europe/Berlin', 'every 30 minutes', '2026-10-25 00:15+00', 5),
	('n1', 'America/New_York', '0 2 * * *', '2026-03-06 12:00+00', 3),
	('n2', 'America/New_York', 'daily at 01:30', '2026-10-31 12:00+00', 3),
	('n3', 'America/New_York', 'every 15 minutes', '2026-11-01 06:10+00', 3),
	('l1', 'Australia/Lord_Howe', 'daily at 01:45', '2026-04-03 12:00+00', 3),
	('l2', 'Australia/Lord_Howe', 'daily at 02:15', '2026-10-02 12:00+00', 3),
	('u1', 'UTC', '0 0 29 2 *', '2026-12-03 00:00+00', 1),
	('u2', 'UTC', 'weekly on sun,wed at 23:30', '2026-12-03 00:00+00', 3),
	('u3', 'UTC', 'every 4 hours from 08:00 for 12 hours', '2026-12-03 13:00+00', 3);

SELECT c.id, c.tz, c.schedule, r.n,
	   to_char(r.t AT TIME ZONE c.tz, 'Dy YYYY-MM-DD HH24:MI') AS local,
	   to_char(r.t, 'YYYY-MM-DD HH24:MI') AS utc
FROM dst_cases c,
	 LATERAL (WITH RECURSIVE runs(n, t) AS (
				SELECT 1, vault_next_run(c.schedule, c.start, c.tz)
				UNION ALL
				SELECT runs.n + 1, vault_next_run(c.schedule, runs.t, c.tz) FROM runs WHERE runs.n < c.n)
			  SELECT * FROM runs) r
ORDER BY c.id, r.n;

-- every run of a month of 'every 15 minutes' in New York is 15 minutes after the
-- last, except across the two changes: the gap (15 min of wall clock lost:
-- 01:45 EST -> 03:00 EDT is 15 minutes real time) and the repeat (01:45 EDT ->
-- 02:00 EST is 75 minutes real time, the repeated hour running once)
WITH RECURSIVE runs(n, t) AS (
	SELECT 1, vault_next_run('every 15 minutes', '2026-03-01 00:00+00', 'America/New_York')
	UNION ALL
	SELECT n + 1, vault_next_run('every 15 minutes', t, 'America/New_York') FROM runs WHERE n < 24000)
SELECT step, count(*), to_char(min(t) AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') AS first_local
FROM (SELECT t, t - lag(t) OVER (ORDER BY n) AS step FROM runs) s
WHERE step IS NOT NULL GROUP BY step ORDER BY step;

-- bad arguments
SELECT vault_next_run('daily at 02:00', now(), 'Mars/Olympus_Mons');
SELECT vault_next_run(NULL, now(), 'UTC');
SELECT vault_next_run('daily at 02:00', NULL, 'UTC');
SELECT vault_next_run('daily at 02:00', now(), NULL);
SELECT vault_next_run('daily at 02:00', 'infinity', 'UTC');

-- ---------------------------------------------------------------------------
-- retention rules
-- ---------------------------------------------------------------------------
SELECT r AS input, r::vault_retention AS canonical
FROM (VALUES ('daily 30, weekly 12 on sun, monthly 12 on day 1, yearly 10 in jan'),
			 ('daily 7'), ('weekly 4'), ('Weekly 4 on Sat,Sunday'), ('monthly 6 on last fri'),
			 ('monthly 6 on day last, daily 9999'), ('yearly 99 in mar,jan on first mon'),
			 ('weekly 5163, monthly 1188, yearly 1')) v(r);

-- out of the cloud's ranges, and malformed
SELECT 'daily 6'::vault_retention;
SELECT 'daily 10000'::vault_retention;
SELECT 'weekly 0'::vault_retention;
SELECT 'weekly 5164'::vault_retention;
SELECT 'monthly 1189'::vault_retention;
SELECT 'yearly 100'::vault_retention;
SELECT 'daily 30 weekly 4'::vault_retention;
SELECT 'daily 30, daily 40'::vault_retention;
SELECT 'monthly 1 on day 29'::vault_retention;
SELECT 'weekly 4 on funday'::vault_retention;
SELECT 'yearly 4 in smarch'::vault_retention;
SELECT 'hourly 5'::vault_retention;
SELECT ''::vault_retention;

-- ---------------------------------------------------------------------------
-- Two years of daily backups at 02:00 UTC (2025-01-01 .. 2026-12-31, 730
-- points), now = 2026-12-31 12:00 UTC, rule
-- "daily 30, weekly 12 on sun, monthly 12 on day 1, yearly 10 in jan".  By hand:
--   daily 30   keeps Dec 2 - Dec 31 2026                          30 points
--   weekly 12  keeps the Sundays Oct 11 - Dec 27 2026             12 (Dec 6/13/20/27 also daily)
--   monthly 12 keeps the 1st of Jan - Dec 2026                    12 (Nov 1 is a Sunday: also weekly)
--   yearly 10  keeps Jan 1 2025 and Jan 1 2026                     2 (2026 also monthly)
--   distinct: 30 + 8 + 11 + 1 = 50 kept, 680 expire.
-- Each is kept until its time plus the rule's length: Oct 11 + 12 weeks = Jan 3
-- 2027; Jan 1 2026 + 12 months = Jan 1 2027 (and + 10 years by yearly); etc.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE gfs AS
SELECT k.*
FROM (SELECT array_agg(t ORDER BY t DESC) AS pts
	  FROM generate_series('2025-01-01 02:00+00'::timestamptz, '2026-12-31 02:00+00', '1 day') t) p,
	 vault_retention_keep('daily 30, weekly 12 on sun, monthly 12 on day 1, yearly 10 in jan',
						  p.pts, '2026-12-31 12:00+00') k;

SELECT count(*) AS points, count(*) FILTER (WHERE kept) AS kept,
	   count(*) FILTER (WHERE 'daily' = ANY (kept_by)) AS by_daily,
	   count(*) FILTER (WHERE 'weekly' = ANY (kept_by)) AS by_weekly,
	   count(*) FILTER (WHERE 'monthly' = ANY (kept_by)) AS by_monthly,
	   count(*) FILTER (WHERE 'yearly' = ANY (kept_by)) AS by_yearly
FROM gfs;

-- the kept points beyond the daily window, with their rules and end of keeping
SELECT to_char(point_time, 'Dy YYYY-MM-DD') AS point, kept_by, selected_by,
	   to_char(keep_until, 'YYYY-MM-DD HH24:MI') AS keep_until
FROM gfs WHERE kept AND NOT 'daily' = ANY (kept_by) ORDER BY point_time;

-- the newest point that expires, and the oldest point kept by the daily rule
SELECT to_char(max(point_time), 'YYYY-MM-DD') AS newest_expired FROM gfs WHERE NOT kept;
SELECT to_char(min(point_time), 'YYYY-MM-DD') AS oldest_daily,
	   to_char(min(keep_until), 'YYYY-MM-DD HH24:MI') AS its_end
FROM gfs WHERE 'daily' = ANY (kept_by);

-- the policy's time zone decides the date: 2026-11-01 02:00 UTC is Sunday in
-- UTC but Saturday evening in Los Angeles, so "weekly 4 on sun" picks it only
-- in UTC; the evening point of Nov 1 in Los Angeles is that day's last point
SELECT tz, to_char(point_time, 'YYYY-MM-DD HH24:MI') AS utc, selected_by,
	   to_char(keep_until AT TIME ZONE tz, 'YYYY-MM-DD HH24:MI') AS until_local
FROM (VALUES ('UTC'), ('America/Los_Angeles')) z(tz),
	 vault_retention_keep('weekly 4 on sun', ARRAY['2026-11-01 02:00+00', '2026-11-02 05:00+00']::timestamptz[],
						  '2026-11-10 00:00+00', tz)
ORDER BY tz, point_time;

-- an empty set, and bad arguments
SELECT count(*) FROM vault_retention_keep('daily 7', '{}', now());
SELECT * FROM vault_retention_keep('daily 7', ARRAY[NULL]::timestamptz[], now());
SELECT * FROM vault_retention_keep('daily 7', ARRAY[now()], NULL);
SELECT * FROM vault_retention_keep(NULL, ARRAY[now()], now());
SELECT * FROM vault_retention_keep('daily 7', ARRAY[now()], now(), 'Nowhere/Special');
SELECT * FROM vault_retention_keep('daily 7', ARRAY['-infinity']::timestamptz[], now());
