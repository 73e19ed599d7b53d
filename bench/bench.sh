#!/usr/bin/env bash
# bench/bench.sh: the vault against its peers, side by side, in one run.
#
# Run through `make bench` (test/run.sh starts a throwaway cluster and calls
# this as the postgres user with PGHOST/PGPORT set).  Parameters (env):
#   BENCH_SCALE  pgbench scale of pgbench_accounts      (default 20, ~260 MB)
#   BENCH_ROWS   rows of the mixed-entropy table         (default 2000000, ~430 MB)
#   BENCH_PEERS  peers to run: copy pg_dump restic borg  (default: all installed)
#   BENCH_OUT    where the Markdown report goes          (default: stdout only)
# Prints one Markdown table of every measurement and one of the targets.
set -euo pipefail

SCALE=${BENCH_SCALE:-20}
ROWS=${BENCH_ROWS:-2000000}
PEERS=${BENCH_PEERS:-copy pg_dump restic borg}
DB=vault_bench
WORK=$(mktemp -d /tmp/vault-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$WORK/borg-home RESTIC_CACHE_DIR=$WORK/restic-cache

has_peer() { [[ " $PEERS " == *" $1 "* ]]; }
for p in restic borg; do
	if has_peer $p && ! command -v $p >/dev/null; then
		echo "note: $p is not installed; skipped" >&2
		PEERS=${PEERS/$p/}
	fi
done
command -v lz4 >/dev/null || { echo "note: lz4 not installed; pg_dump -Z0 | lz4 skipped" >&2; }

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

ROWS_OUT=()      # dataset|scenario|tool|secs|table_mb|new_bytes|total_bytes|peak_mb|worker_mb
record() {
	local f
	ROWS_OUT+=("$*"); printf '   %s\n' "$*" >&2
	IFS='|' read -r -a f <<<"${*//\\|/¦}"
	note_cpus "${f[0]}|${f[1]}|${f[2]}" "${f[3]}"
}
# How many CPUs the machine kept busy on average in the fastest run of each
# measurement (dataset|scenario|tool): the CPUS of measure() (below) of the
# run whose wall time was the shortest so far.
declare -A CPU_FAST=() CPU_BUSY=()
CPUS=0
note_cpus() {
	if [ -z "${CPU_FAST[$1]:-}" ] || awk -v a="$2" -v b="${CPU_FAST[$1]}" 'BEGIN { exit !(a < b) }'; then
		CPU_FAST[$1]=$2
		CPU_BUSY[$1]=$CPUS
	fi
}
copy_cpus() { CPU_FAST[$2]=${CPU_FAST[$1]:-}; CPU_BUSY[$2]=${CPU_BUSY[$1]:-}; }
# another run of a recorded measurement (dataset, scenario, tool): its
# wall time counts when it is the fastest so far, its memory (fields 7, 8)
# when it is the largest
record_again() {
	local i f
	for i in "${!ROWS_OUT[@]}"; do
		IFS='|' read -r -a f <<<"${ROWS_OUT[$i]//\\|/¦}"
		if [ "${f[0]}" = "$1" ] && [ "${f[1]}" = "$2" ] && [ "${f[2]}" = "${3//\\|/¦}" ]; then
			f[3]=$(awk -v a="${f[3]}" -v b="$4" 'BEGIN { print (b < a) ? b : a }')
			[ -n "${5:-}" ] && f[7]=$(awk -v a="${f[7]:-0}" -v b="$5" 'BEGIN { print (b > a) ? b : a }')
			[ -n "${6:-}" ] && f[8]=$(awk -v a="${f[8]:-0}" -v b="$6" 'BEGIN { print (b > a) ? b : a }')
			ROWS_OUT[$i]=$(IFS='|'; echo "${f[*]}")
			ROWS_OUT[$i]=${ROWS_OUT[$i]//¦/\\|}
			note_cpus "$1|$2|$3" "$4"
			printf '   %s|%s|%s: again %s s\n' "$1" "$2" "$3" "$4" >&2
			return
		fi
	done
	echo "record_again: no measurement $1|$2|$3" >&2
	exit 1
}

# Run a command with PGAPPNAME=$app; meanwhile sample the private memory
# (RssAnon) of the backend(s) serving it, and of the vault's parallel
# workers, every 50 ms.  Sets SECS, PEAK_MB (largest growth of a backend's
# private memory over its first sample; shared buffers and the workers'
# shared queues are not private and do not count), WORKER_MB (the
# largest private memory a parallel worker had, all of it), CPU_SECS (the
# CPU time the whole machine was busy meanwhile, from /proc/stat: the
# sampler's own share included) and CPUS (CPU_SECS / SECS: how many CPUs
# were busy on average).  The sampler
# is one psql session repeating its query (\watch) and reads /proc with
# shell builtins: a connection or a process per sample would take a good
# part of a core from what is measured.
rss_kb() {	# rss_kb <pid>: RSS_KB gets its RssAnon in kB, or nothing
	local k v
	RSS_KB=
	while IFS=: read -r k v; do
		if [ "$k" = RssAnon ]; then v=${v% kB}; RSS_KB=$((v)); return; fi
	done </proc/$1/status 2>/dev/null || true
}
HZ=$(getconf CLK_TCK)
busy_ticks() {	# CPU_T: the busy clock ticks of a /proc/stat "cpu" line on stdin
	local cpu u n s i w q sq st rest
	read -r cpu u n s i w q sq st rest
	CPU_T=$((u + n + s + q + sq + st))
}
cpu_ticks() { busy_ticks </proc/stat; }	# the machine's, since boot
measure() {
	local app=$1; shift
	local samples=$WORK/samples.$app fifo=$WORK/fifo.$app
	: >"$samples"; : >"$samples.w"
	rm -f "$fifo"; mkfifo "$fifo"
	printf "SELECT pid, backend_type = 'vault parallel worker' FROM pg_stat_activity WHERE application_name = '%s' OR backend_type = 'vault parallel worker' \\watch 0.05\n" "$app" |
		psql -X -At -F ' ' -d $DB >"$fifo" 2>/dev/null &
	local watcher=$!
	(
		while read -r pid w; do
			rss_kb "$pid"
			[ -n "$RSS_KB" ] || continue
			if [ "$w" = t ]; then echo "$pid $RSS_KB" >>"$samples.w"; else echo "$pid $RSS_KB" >>"$samples"; fi
		done <"$fifo"
	) &
	local reader=$!
	local t0 t1 c0
	cpu_ticks; c0=$CPU_T
	t0=$(date +%s.%N)
	PGAPPNAME=$app "$@"
	t1=$(date +%s.%N)
	cpu_ticks
	kill $watcher 2>/dev/null; wait $watcher $reader 2>/dev/null || true
	SECS=$(calc "$t1 - $t0")
	CPU_SECS=$(calc "($CPU_T - $c0) / $HZ")
	CPUS=$(calc "$CPU_SECS / $SECS")
	PEAK_MB=$(awk '{ if (!($1 in base)) base[$1] = $2; if ($2 - base[$1] > m) m = $2 - base[$1] } END { printf "%.1f", m / 1024 }' "$samples")
	WORKER_MB=$(awk '{ if ($2 > m) m = $2 } END { printf "%.1f", m / 1024 }' "$samples.w")
}

# The same for one SQL statement: the session idles 0.3 s first so the
# sampler sees the backend before the work; the wall time is psql's \timing
# of that statement alone, and CPU_SECS the machine's busy CPU time read from
# /proc/stat by the same session just before and just after it (the
# sampler's share included).  The statement's result goes to $WORK/result.
measure_sql() {
	local app=$1 stmt=$2 out
	printf "SELECT pg_sleep(0.3);\nSELECT split_part(pg_read_file('/proc/stat'), E'\\\\n', 1);\n\\\\timing on\n%s;\n\\\\timing off\nSELECT split_part(pg_read_file('/proc/stat'), E'\\\\n', 1);\n" "$stmt" >"$WORK/stmt.sql"
	measure "$app" bash -c "psql -X -At -v ON_ERROR_STOP=1 -d $DB -f '$WORK/stmt.sql' >'$WORK/timing'"
	out=$(cat "$WORK/timing")
	SECS=$(printf '%s\n' "$out" | awk '/^Time: /{ print $2 / 1000 }' | tail -1)
	# the machine's busy CPU time between the statement's two neighbours
	local c0
	busy_ticks <<<"$(printf '%s\n' "$out" | grep '^cpu ' | head -1)"; c0=$CPU_T
	busy_ticks <<<"$(printf '%s\n' "$out" | grep '^cpu ' | tail -1)"
	CPU_SECS=$(calc "($CPU_T - $c0) / $HZ")
	CPUS=$(calc "$CPU_SECS / $SECS")
	printf '%s\n' "$out" | grep -v -e '^Time: ' -e '^Timing is ' -e '^cpu ' -e '^$' | tail -1 >"$WORK/result"
}

dir_bytes() { du -sb "$1" | cut -f1; }

vault_point_bytes() { sql -c "SELECT new_bytes FROM vault_recovery_points WHERE recovery_point = $1"; }
# a point's chunks as a row of their own: new chunks (field 5), of them deltas (6), all (7)
record_deltas() {
	record "$1|0|0|$(sql -c "SELECT new_chunks || '|' || delta_chunks || '|' || chunks FROM vault_recovery_points WHERE recovery_point = $2")"
}
vault_total_bytes() { sql -c "SELECT stored_bytes FROM vault_vaults WHERE vault = 'bench'"; }

setup_data() {
	echo "== loading data sets (pgbench scale $SCALE, mixed $ROWS rows)" >&2
	# No autovacuum in the bench's own cluster: a vacuum of the chunks and
	# of their TOAST table, due once the backups have added enough rows,
	# lands on whichever measurement runs then, the vault's or a peer's (its
	# log showed one during a serial restore; the TOAST table's alone took
	# 4.5 s in a run with a tenth of the mixed rows).  The data sets are
	# vacuumed once loaded, as before.
	psql -X -q -d postgres -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
	dropdb --if-exists $DB >/dev/null 2>&1 || true
	createdb $DB
	sql -c "CREATE EXTENSION vault CASCADE" 2>/dev/null
	sql -c "SELECT vault_create('bench')" >/dev/null
	sql -c "SELECT vault_create('bench_zstd'); SELECT vault_configure('bench_zstd', compression => 'zstd')" >/dev/null
	sql -c "SELECT vault_create('bench_serial')" >/dev/null
	pgbench -i -s "$SCALE" -q -I dtgvp $DB >/dev/null 2>&1
	sql -c "DROP TABLE pgbench_history, pgbench_tellers, pgbench_branches"
	sql <<SQL
CREATE TABLE mixed (
    id bigint PRIMARY KEY,
    created timestamptz NOT NULL,
    updated timestamptz,
    status text NOT NULL,
    amount numeric(14,2) NOT NULL,
    note text,
    attrs jsonb
);
INSERT INTO mixed
SELECT i,
       '2024-01-01'::timestamptz + random() * interval '700 days',
       CASE WHEN random() < 0.5 THEN '2025-06-01'::timestamptz + random() * interval '100 days' END,
       (ARRAY['new', 'paid', 'shipped', 'returned', 'void'])[1 + floor(random() * 5)::int],
       round((random() * 10000)::numeric, 2),
       substr(md5(random()::text) || md5(random()::text), 1, 20 + floor(random() * 40)::int),
       jsonb_build_object('customer', floor(random() * 1e6)::int, 'score', round(random()::numeric, 4),
                          'tags', jsonb_build_array(md5(random()::text), floor(random() * 100)::int),
                          'region', (ARRAY['eu', 'us', 'apac'])[1 + floor(random() * 3)::int],
                          'ref', md5(random()::text))
FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE mixed;
SQL
}

table_mb() { sql -c "SELECT round(pg_relation_size('$1') / 1048576.0, 1)"; }

# one backup of every tool for a dataset and scenario; the vault twice,
# into the lz4 vault and into the zstd one
# (each vault backup starts after a CHECKPOINT, so none pays for the WAL
# of the one before it)
backup_round() {
	local tbl=$1 scen=$2 key=$3 mb p
	mb=$(table_mb "$tbl")
	sql -c CHECKPOINT
	measure_sql vault_backup "SELECT vault_backup('bench', '$tbl')"
	p=$(cat "$WORK/result")
	record "$tbl|$scen|vault|$SECS|$mb|$(vault_point_bytes "$p")|$(vault_total_bytes)|$PEAK_MB|$WORKER_MB"
	record_deltas "$tbl|$scen|vault deltas" "$p"
	# the same, serially (vault.max_parallel_workers = 0), into a vault of its own
	sql -c CHECKPOINT
	PGOPTIONS='-c vault.max_parallel_workers=0' measure_sql vault_backup "SELECT vault_backup('bench_serial', '$tbl')"
	p=$(cat "$WORK/result")
	record "$tbl|$scen (serial)|vault|$SECS|$mb|$(vault_point_bytes "$p")|0|$PEAK_MB|0"
	sql -c CHECKPOINT
	measure_sql vault_backup "SELECT vault_backup('bench_zstd', '$tbl')"
	p=$(cat "$WORK/result")
	record "$tbl|$scen (zstd)|vault|$SECS|$mb|$(vault_point_bytes "$p")|$(sql -c "SELECT stored_bytes FROM vault_vaults WHERE vault = 'bench_zstd'")|$PEAK_MB"
	if has_peer restic; then
		local before; before=$(dir_bytes "$WORK/restic-$tbl")
		measure restic_copy bash -c "psql -X -d $DB -c \"COPY $tbl TO STDOUT (FORMAT binary)\" | restic -q -r '$WORK/restic-$tbl' backup --stdin --stdin-filename $tbl.copy >/dev/null"
		record "$tbl|$scen|restic|$SECS|$mb|$(( $(dir_bytes "$WORK/restic-$tbl") - before ))|$(dir_bytes "$WORK/restic-$tbl")|$PEAK_MB"
	fi
	if has_peer borg; then
		local before; before=$(dir_bytes "$WORK/borg-$tbl")
		measure borg_copy bash -c "psql -X -d $DB -c \"COPY $tbl TO STDOUT (FORMAT binary)\" | borg create --compression lz4 '$WORK/borg-$tbl::$scen' - >/dev/null 2>&1"
		record "$tbl|$scen|borg|$SECS|$mb|$(( $(dir_bytes "$WORK/borg-$tbl") - before ))|$(dir_bytes "$WORK/borg-$tbl")|$PEAK_MB"
	fi
}

# The full backup's targets again (the machine's speed moves by a fifth
# between two runs of the same thing): the COPY floor, pg_dump -Fc -Z1 and
# the vault's full backup with two workers and serially, each into a new
# vault of its own so it stores every chunk anew, in the reverse order of
# the first round or in its order.  Each tool's fastest run of the three
# is recorded as "full, fastest of 3"; the first round's stays "full", the
# measure of the other scenarios of its round.  These two rounds also back
# up with one worker and the caller (no target: what a two-core machine's
# DBA would compare the default two workers with), its fastest of the two
# recorded as "full, fastest of 2 (1 worker)".
FULL3='full, fastest of 3'
FULL2_ONE='full, fastest of 2 (1 worker)'
full_again() {
	local tbl=$1 k=$2 order="copy pg_dump vault one serial" t v r f
	[ "${3:-}" = reversed ] && order="serial one vault pg_dump copy"
	if [ "$k" = 2 ]; then
		for r in "${ROWS_OUT[@]}"; do
			IFS='|' read -r -a f <<<"$r"
			[ "${f[0]}" = "$tbl" ] || continue
			case "${f[1]}|${f[2]}" in
			"full|COPY TO /dev/null (floor)" | "full|pg_dump -Fc -Z1" | "full|vault")
				record "$tbl|$FULL3|${r#*|full|}"
				copy_cpus "$tbl|full|${f[2]}" "$tbl|$FULL3|${f[2]}" ;;
			"full (serial)|vault")
				record "$tbl|$FULL3 (serial)|${r#*|full (serial)|}"
				copy_cpus "$tbl|full (serial)|vault" "$tbl|$FULL3 (serial)|vault" ;;
			esac
		done
	fi
	for t in $order; do
		case $t in
		copy)
			has_peer copy || continue
			measure_sql copy_floor "COPY $tbl TO '/dev/null' (FORMAT binary)"
			record_again "$tbl" "$FULL3" 'COPY TO /dev/null (floor)' "$SECS" ;;
		pg_dump)
			has_peer pg_dump || continue
			measure pg_dump pg_dump -Fc -Z1 -t "$tbl" -f "$WORK/$tbl.z1.dump" $DB
			record_again "$tbl" "$FULL3" 'pg_dump -Fc -Z1' "$SECS" ;;
		vault | serial | one)
			v=bench_${t}_${tbl}_$k
			sql -c "SELECT vault_create('$v')" >/dev/null
			sql -c CHECKPOINT
			if [ $t = serial ]; then
				PGOPTIONS='-c vault.max_parallel_workers=0' measure_sql vault_backup "SELECT vault_backup('$v', '$tbl')"
				record_again "$tbl" "$FULL3 (serial)" vault "$SECS" "$PEAK_MB"
			elif [ $t = one ]; then
				PGOPTIONS='-c vault.max_parallel_workers=1' measure_sql vault_backup "SELECT vault_backup('$v', '$tbl')"
				if [ "$k" = 2 ]; then
					record "$tbl|$FULL2_ONE|vault|$SECS|$(table_mb "$tbl")|$(vault_point_bytes "$(cat "$WORK/result")")|0|$PEAK_MB|$WORKER_MB"
				else
					record_again "$tbl" "$FULL2_ONE" vault "$SECS" "$PEAK_MB" "$WORKER_MB"
				fi
			else
				measure_sql vault_backup "SELECT vault_backup('$v', '$tbl')"
				record_again "$tbl" "$FULL3" vault "$SECS" "$PEAK_MB" "$WORKER_MB"
			fi ;;
		esac
	done
}

bench_table() {
	local tbl=$1 key=$2 n mb p
	n=$(sql -c "SELECT count(*) FROM $tbl")
	mb=$(table_mb "$tbl")
	echo "== $tbl: $n rows, $mb MB" >&2
	has_peer restic && restic -q -r "$WORK/restic-$tbl" init >/dev/null
	has_peer borg && borg init --encryption=none "$WORK/borg-$tbl" >/dev/null 2>&1

	if has_peer copy; then
		measure_sql copy_floor "COPY $tbl TO '/dev/null' (FORMAT binary)"
		record "$tbl|full|COPY TO /dev/null (floor)|$SECS|$mb|0|0|$PEAK_MB"
	fi
	if has_peer pg_dump; then
		measure pg_dump pg_dump -Fc -Z1 -t "$tbl" -f "$WORK/$tbl.z1.dump" $DB
		record "$tbl|full|pg_dump -Fc -Z1|$SECS|$mb|$(stat -c %s "$WORK/$tbl.z1.dump")|$(stat -c %s "$WORK/$tbl.z1.dump")|$PEAK_MB"
		if command -v lz4 >/dev/null; then
			measure pg_dump_lz4 bash -c "pg_dump -Fc -Z0 -t $tbl $DB | lz4 -1 -q > '$WORK/$tbl.lz4.dump'"
			record "$tbl|full|pg_dump -Fc -Z0 \\| lz4 -1|$SECS|$mb|$(stat -c %s "$WORK/$tbl.lz4.dump")|$(stat -c %s "$WORK/$tbl.lz4.dump")|$PEAK_MB"
		fi
	fi
	backup_round "$tbl" full "$key"
	full_again "$tbl" 2 reversed
	full_again "$tbl" 3
	backup_round "$tbl" unchanged "$key"
	# the same unchanged table, read in full: a REPEATABLE READ backup cannot
	# use the unchanged-table proof (src/stream/unchanged.c), so it streams every row
	PGOPTIONS='-c default_transaction_isolation=repeatable\ read' \
		measure_sql vault_backup "SELECT vault_backup('bench', '$tbl')"
	p=$(cat "$WORK/result")
	record "$tbl|unchanged, read in full (no proof)|vault|$SECS|$(table_mb "$tbl")|$(vault_point_bytes "$p")|$(vault_total_bytes)|$PEAK_MB"
	# what live progress costs: the same read-in-full backup with
	# vault.track_progress on and off, alternated five times, fastest of each
	local on=999999 off=999999 i
	for i in 1 2 3 4 5; do
		PGOPTIONS='-c default_transaction_isolation=repeatable\ read -c vault.track_progress=on' \
			measure_sql vault_backup "SELECT vault_backup('bench', '$tbl')"
		on=$(awk -v a=$on -v b=$SECS 'BEGIN { print (b < a) ? b : a }')
		PGOPTIONS='-c default_transaction_isolation=repeatable\ read -c vault.track_progress=off' \
			measure_sql vault_backup "SELECT vault_backup('bench', '$tbl')"
		off=$(awk -v a=$off -v b=$SECS 'BEGIN { print (b < a) ? b : a }')
	done
	record "$tbl|read in full, progress on (best of 5)|vault|$on|$(table_mb "$tbl")|0|$(vault_total_bytes)|0"
	record "$tbl|read in full, progress off (best of 5)|vault|$off|$(table_mb "$tbl")|0|$(vault_total_bytes)|0"

	# after each change the table is read once before any tool: the first
	# reader after a write prunes pages and sets hint bits, a cost no tool
	# of the round should carry for the others
	local max; max=$(sql -c "SELECT max($key) FROM $tbl")
	local one=$(( n / 100 ))
	append_rows "$tbl" "$key" "$max" "$one"
	sql -c "COPY $tbl TO '/dev/null' (FORMAT binary)"
	backup_round "$tbl" "1% appended" "$key"

	local lo=$(( n / 2 ))
	hot_update "$tbl" "$key" "$lo" "$(( lo + one ))"
	sql -c "COPY $tbl TO '/dev/null' (FORMAT binary)"
	backup_round "$tbl" "1% hot-set update" "$key"

	scattered_update "$tbl" "$key"
	sql -c "COPY $tbl TO '/dev/null' (FORMAT binary)"
	backup_round "$tbl" "1% scattered update" "$key"

	# restore of the latest point (the scattered update's: mostly deltas)
	# into a new table (with its primary key), from each vault; each
	# source read once first (the point verified, the dump read), so no
	# restore pays for bringing its source into memory.  Three rounds of
	# the targets' restores (two workers, serial, pg_restore), the second
	# in the reverse order; each one's fastest counts (the zstd vault's,
	# no target, once).
	p=$(sql -c "SELECT max(recovery_point) FROM vault_recovery_points WHERE item = 'public.$tbl' AND vault = 'bench'")
	sql -c "SELECT ok FROM vault_verify($p)" >/dev/null
	if has_peer pg_dump; then
		pg_dump -Fc -Z1 -t "$tbl" -f "$WORK/$tbl.latest.dump" $DB
		cat "$WORK/$tbl.latest.dump" >/dev/null
	fi
	local round t
	for round in 1 2 3; do
		local order="vault serial zstd pg_restore"
		[ $round = 2 ] && order="pg_restore serial vault"
		[ $round = 3 ] && order="vault serial pg_restore"
		for t in $order; do
			restore_one "$tbl" "$mb" "$p" $t $round
		done
	done
}

# One restore of bench_table's: into ${tbl}_restored (dropped after), or by
# pg_restore into a new database; the first round records, the others
# record again.
restore_one() {
	local tbl=$1 mb=$2 p=$3 t=$4 round=$5 scen=restore tool=vault
	case $t in
	pg_restore)
		has_peer pg_dump || return 0
		dropdb --if-exists ${DB}_r >/dev/null 2>&1 || true
		createdb ${DB}_r
		measure pg_restore pg_restore -d ${DB}_r "$WORK/$tbl.latest.dump"
		dropdb ${DB}_r
		tool='pg_restore (-Z1 dump)'; WORKER_MB= ;;
	vault)
		sql -c CHECKPOINT
		measure_sql vault_restore "SELECT vault_restore($p, '${tbl}_restored')"
		sql -c "DROP TABLE ${tbl}_restored" ;;
	serial)
		sql -c CHECKPOINT
		PGOPTIONS='-c vault.max_parallel_workers=0' measure_sql vault_restore "SELECT vault_restore($p, '${tbl}_restored')"
		sql -c "DROP TABLE ${tbl}_restored"
		scen='restore (serial)'; WORKER_MB=0 ;;
	zstd)
		local pz
		pz=$(sql -c "SELECT max(recovery_point) FROM vault_recovery_points WHERE item = 'public.$tbl' AND vault = 'bench_zstd'")
		sql -c "SELECT ok FROM vault_verify($pz)" >/dev/null
		sql -c CHECKPOINT
		measure_sql vault_restore "SELECT vault_restore($pz, '${tbl}_restored')"
		sql -c "DROP TABLE ${tbl}_restored"
		scen='restore (zstd)'; WORKER_MB= ;;
	esac
	if [ "$round" = 1 ]; then
		record "$tbl|$scen|$tool|$SECS|$mb|0|0|$PEAK_MB${WORKER_MB:+|$WORKER_MB}"
	else
		record_again "$tbl" "$scen" "$tool" "$SECS" "$PEAK_MB" "${WORKER_MB:-}"
	fi
}

append_rows() {
	local tbl=$1 key=$2 max=$3 n=$4
	if [ "$tbl" = pgbench_accounts ]; then
		sql -c "INSERT INTO pgbench_accounts SELECT aid + $max, bid, abalance, filler FROM pgbench_accounts WHERE aid <= $n"
	else
		sql -c "INSERT INTO mixed SELECT id + $max, created, updated, status, amount, note, attrs FROM mixed WHERE id <= $n"
	fi
}

hot_update() {
	local tbl=$1 key=$2 lo=$3 hi=$4
	if [ "$tbl" = pgbench_accounts ]; then
		sql -c "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN $lo AND $hi"
	else
		sql -c "UPDATE mixed SET status = 'paid', updated = now() WHERE id BETWEEN $lo AND $hi"
	fi
}

scattered_update() {
	local tbl=$1 key=$2
	if [ "$tbl" = pgbench_accounts ]; then
		sql -c "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 100 = 7"
	else
		sql -c "UPDATE mixed SET status = 'void', updated = now() WHERE id % 100 = 7"
	fi
}

# A schema of 20 tables of different sizes: slices of both data sets, the
# i-th of each i/55 of it (so 1/55 to 10/55, both data sets in all),
# backed up serially, by the default two workers and by one worker (with
# the calling backend reading too, as by default), each into a new vault,
# four times each, alternated (S P O O P S S P O O P S, so none comes later
# on average): the fastest of each counts (the machine's speed moves: two
# serial runs back to back took 9.6 and 12.8 s), and the most memory.
bench_schema() {
	echo "== schema of 20 tables" >&2
	sql >/dev/null <<'SQL'
DROP SCHEMA IF EXISTS s20 CASCADE;
CREATE SCHEMA s20;
DO $$
DECLARE
	na bigint := (SELECT max(aid) FROM pgbench_accounts);
	nm bigint := (SELECT max(id) FROM mixed);
BEGIN
	FOR i IN 1..10 LOOP
		EXECUTE format('CREATE TABLE s20.accounts_%s AS SELECT * FROM pgbench_accounts WHERE aid > %s AND aid <= %s',
					   i, na * (i - 1) * i / 110, na * i * (i + 1) / 110);
		EXECUTE format('CREATE TABLE s20.mixed_%s AS SELECT * FROM mixed WHERE id > %s AND id <= %s',
					   i, nm * (i - 1) * i / 110, nm * i * (i + 1) / 110);
	END LOOP;
END $$;
VACUUM ANALYZE;
SQL
	local mb; mb=$(sql -c "SELECT round(sum(pg_relation_size(c.oid)) / 1048576.0, 1) FROM pg_class c WHERE c.relnamespace = 's20'::regnamespace AND c.relkind = 'r'")
	local run scen ds='schema of 20 tables'
	for run in serial_1 parallel_1 one_1 one_2 parallel_2 serial_2 serial_3 parallel_3 one_3 one_4 parallel_4 serial_4; do
		sql -c "SELECT vault_create('s20_$run')" >/dev/null
		sql -c CHECKPOINT
		if [[ $run == serial* ]]; then
			scen='full (serial)'
			PGOPTIONS='-c vault.max_parallel_workers=0' measure_sql vault_backup "SELECT vault_backup_schema('s20_$run', 's20')"
			WORKER_MB=0
		elif [[ $run == one* ]]; then
			scen='full (1 worker)'
			PGOPTIONS='-c vault.max_parallel_workers=1' measure_sql vault_backup "SELECT vault_backup_schema('s20_$run', 's20')"
		else
			scen=full
			measure_sql vault_backup "SELECT vault_backup_schema('s20_$run', 's20')"
		fi
		if [[ $run == *_1 ]]; then
			record "$ds|$scen|vault|$SECS|$mb|$(vault_point_bytes "$(cat "$WORK/result")")|0|$PEAK_MB|$WORKER_MB"
		else
			record_again "$ds" "$scen" vault "$SECS" "$PEAK_MB" "$WORKER_MB"
		fi
	done
	sql -c "DROP SCHEMA s20 CASCADE" >/dev/null
}

setup_data
bench_table pgbench_accounts aid
bench_table mixed id
bench_schema

# ---------------------------------------------------------------- report
report=$WORK/report.md
{
	echo "| data set | scenario | tool | wall s | MB/s | new MB | total MB | backend private mem growth MB | worker private mem MB |"
	echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
	for r in "${ROWS_OUT[@]}"; do
		IFS='|' read -r ds scen tool secs mb new total peak wmb <<<"${r//\\|/¦}"
		[ "$tool" = "vault deltas" ] && continue
		printf '| %s | %s | %s | %.2f | %.0f | %.1f | %.1f | %s | %s |\n' "$ds" "$scen" "${tool//¦/\\|}" "$secs" \
			"$(calc "$mb / $secs")" "$(calc "$new / 1048576")" "$(calc "$total / 1048576")" "$peak" "${wmb:-}"
	done
} >"$report"

get() {   # get dataset scenario tool field (3=secs 5=new 6=total 7=peak 8=worker)
	for r in "${ROWS_OUT[@]}"; do
		IFS='|' read -r -a f <<<"${r//\\|/¦}"
		if [ "${f[0]}" = "$1" ] && [ "${f[1]}" = "$2" ] && [[ "${f[2]}" == "$3"* ]]; then echo "${f[$4]}"; return; fi
	done
	echo ""
}
ratio() { if [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ]; then awk "BEGIN { printf \"%.3f\", $1 / $2 }"; else echo "n/a"; fi; }
cpus() { if [ -n "${CPU_BUSY[$1]:-}" ]; then printf '%.2f' "${CPU_BUSY[$1]}"; else echo n/a; fi; }
NCPU=$(nproc)
check() { if [ "$1" = n/a ] || [ -z "$1" ]; then echo "n/a"; elif awk "BEGIN { exit !($1 <= $2) }"; then echo met; else echo missed; fi; }

{
	echo
	echo "| data set | target | measured | limit | |"
	echo "|---|---|---:|---:|---|"
	for ds in pgbench_accounts mixed; do
		full=$(get $ds full vault 3); fulln=$(get $ds full vault 5); serial=$(get $ds 'full (serial)' vault 3)
		full3=$(get $ds "$FULL3" vault 3); serial3=$(get $ds "$FULL3 (serial)" vault 3)
		r=$(ratio "$full3" "$(get $ds "$FULL3" 'pg_dump -Fc -Z1' 3)"); echo "| $ds | full backup wall (2 workers) / pg_dump -Fc -Z1, fastest of 3 each | $r | 0.75 | $(check $r 0.75) |"
		r=$(ratio "$serial3" "$(get $ds "$FULL3" 'pg_dump -Fc -Z1' 3)"); echo "| $ds | full backup wall (serial) / pg_dump -Fc -Z1, fastest of 3 each | $r | 1.0 | $(check $r 1.0) |"
		r=$(ratio "$full3" "$(get $ds "$FULL3" 'COPY' 3)"); echo "| $ds | full backup wall (2 workers) / COPY floor, fastest of 3 each | $r | 1.3 | $(check $r 1.3) |"
		r=$(ratio "$serial3" "$(get $ds "$FULL3" 'COPY' 3)"); echo "| $ds | full backup wall (serial) / COPY floor, fastest of 3 each | $r | 2.0 | $(check $r 2.0) |"
		r=$(ratio "$full3" "$serial3"); echo "| $ds | (no target) full backup wall, 2 workers / serial, fastest of 3 each | $r | | |"
		one2=$(get $ds "$FULL2_ONE" vault 3)
		r=$(ratio "$one2" "$(get $ds "$FULL3" 'COPY' 3)"); echo "| $ds | (no target) full backup wall (1 worker and the caller, fastest of 2) / COPY floor (fastest of 3) | $r | | |"
		r=$(ratio "$one2" "$full3"); echo "| $ds | (no target) full backup wall, 1 worker and the caller (fastest of 2) / 2 workers (fastest of 3) | $r | | |"
		echo "| $ds | (no target) CPUs busy on average (of $NCPU) in the fastest full backup: 2 workers, 1 worker and the caller, serial; the COPY floor, pg_dump -Fc -Z1 | $(cpus "$ds|$FULL3|vault"), $(cpus "$ds|$FULL2_ONE|vault"), $(cpus "$ds|$FULL3 (serial)|vault"); $(cpus "$ds|$FULL3|COPY TO /dev/null (floor)"), $(cpus "$ds|$FULL3|pg_dump -Fc -Z1") | | |"
		r=$(ratio "$(get $ds 'full (serial)' vault 5)" "$fulln"); echo "| $ds | (no target) full point new bytes, serial / 2 workers | $r | | |"
		r=$(ratio "$(get $ds unchanged vault 3)" "$full"); echo "| $ds | unchanged re-backup wall / full | $r | 0.6 | $(check $r 0.6) |"
		r=$(ratio "$(get $ds unchanged vault 5)" "$fulln"); echo "| $ds | unchanged re-backup new bytes / full | $r | 0.005 | $(check $r 0.005) |"
		r=$(ratio "$(get $ds 'unchanged, read in full (no proof)' vault 3)" "$full"); echo "| $ds | (no target) unchanged re-backup read in full, wall / full | $r | | |"
		r=$(ratio "$(get $ds 'read in full, progress on (best of 5)' vault 3)" "$(get $ds 'read in full, progress off (best of 5)' vault 3)"); echo "| $ds | backup wall with live progress / without (vault.track_progress) | $r | 1.03 | $(check $r 1.03) |"
		r=$(ratio "$(get $ds '1% appended' vault 5)" "$fulln"); echo "| $ds | 1% appended new bytes / full | $r | 0.03 | $(check $r 0.03) |"
		r=$(ratio "$(get $ds '1% hot-set update' vault 5)" "$fulln"); echo "| $ds | 1% hot-set update new bytes / full | $r | 0.05 | $(check $r 0.05) |"
		v=$(get $ds '1% scattered update' vault 5)
		r=$(ratio "$v" "$(get $ds '1% scattered update' restic 5)"); echo "| $ds | 1% scattered update new bytes / restic's | $r | 0.25 | $(check $r 0.25) |"
		r=$(ratio "$v" "$(get $ds '1% scattered update' borg 5)"); echo "| $ds | 1% scattered update new bytes / borg's | $r | 0.25 | $(check $r 0.25) |"
		r=$(ratio "$(get $ds '1% scattered update (zstd)' vault 5)" "$(get $ds '1% scattered update' restic 5)"); echo "| $ds | (no target) 1% scattered update new bytes, zstd vault / restic's | $r | | |"
		n=$(get $ds '1% scattered update' 'vault deltas' 5); d=$(get $ds '1% scattered update' 'vault deltas' 6); echo "| $ds | (no target) the scattered update's point: new chunks, of them deltas | $n, $d | | |"
		r=$(ratio "$(get $ds '1% scattered update' vault 3)" "$full"); echo "| $ds | backup wall after the scattered update / the full backup's (2 workers) | $r | 1.5 | $(check $r 1.5) |"
		r=$(ratio "$(get $ds '1% scattered update (serial)' vault 3)" "$serial"); echo "| $ds | the same, serial / serial | $r | 1.5 | $(check $r 1.5) |"
		r=$(ratio "$(get $ds '1% scattered update' vault 3)" "$(get $ds '1% scattered update (serial)' vault 3)"); echo "| $ds | (no target) backup wall after the scattered update, 2 workers / serial | $r | | |"
		r=$(ratio "$(get $ds '1% scattered update (zstd)' vault 3)" "$(get $ds 'full (zstd)' vault 3)"); echo "| $ds | (no target) the same, zstd vault | $r | | |"
		for scen in '1% appended' '1% hot-set update'; do
			r=$(ratio "$(get $ds "$scen (zstd)" vault 5)" "$(get $ds "$scen" vault 5)"); echo "| $ds | (no target) $scen new bytes, zstd / lz4 | $r | | |"
		done
		r=$(ratio "$fulln" "$(get $ds full borg 5)"); echo "| $ds | full point stored bytes / borg lz4 repository | $r | 1.0 | $(check $r 1.0) |"
		r=$(ratio "$(get $ds 'full (zstd)' vault 5)" "$(get $ds full restic 5)"); echo "| $ds | full point stored bytes with zstd / restic's | $r | 1.0 | $(check $r 1.0) |"
		r=$(ratio "$(get $ds 'full (zstd)' vault 5)" "$fulln"); echo "| $ds | (no target) full point stored bytes, zstd / lz4 | $r | | |"
		r=$(ratio "$(get $ds 'full (zstd)' vault 3)" "$full"); echo "| $ds | (no target) full backup wall, zstd / lz4 | $r | | |"
		r=$(ratio "$(get $ds restore vault 3)" "$(get $ds restore pg_restore 3)"); echo "| $ds | restore wall (a point mostly of deltas, 2 workers) / pg_restore, fastest of 3 each | $r | 0.8 | $(check $r 0.8) |"
		r=$(ratio "$(get $ds 'restore (serial)' vault 3)" "$(get $ds restore pg_restore 3)"); echo "| $ds | restore wall (the same, serial) / pg_restore, fastest of 3 each | $r | 1.0 | $(check $r 1.0) |"
		r=$(ratio "$(get $ds 'restore (zstd)' vault 3)" "$(get $ds restore pg_restore 3)"); echo "| $ds | (no target) restore wall, zstd vault / pg_restore | $r | | |"
		for scen in full unchanged '1% appended' restore; do
			pk=$(get $ds "$scen" vault 7)
			lim=64; [ "$scen" = restore ] && lim=$(( 64 + $(sql -c "SELECT setting::int / 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'") ))
			echo "| $ds | backend private memory growth, $scen (MB) | $pk | $lim | $(check "$pk" $lim) |"
		done
		pk=$(get $ds full vault 8); echo "| $ds | a parallel worker's private memory, full backup (MB) | $pk | 64 | $(check "$pk" 64) |"
	done
	ds='schema of 20 tables'
	r=$(ratio "$(get "$ds" full vault 3)" "$(get "$ds" 'full (serial)' vault 3)"); echo "| $ds | backup wall, 2 workers / serial, fastest of 4 each | $r | 0.6 | $(check $r 0.6) |"
	r=$(ratio "$(get "$ds" 'full (1 worker)' vault 3)" "$(get "$ds" 'full (serial)' vault 3)"); echo "| $ds | (no target) backup wall, 1 worker and the caller / serial, fastest of 4 each | $r | | |"
	r=$(ratio "$(get "$ds" 'full (1 worker)' vault 3)" "$(get "$ds" full vault 3)"); echo "| $ds | (no target) backup wall, 1 worker / 2 workers, fastest of 4 each | $r | | |"
	echo "| $ds | (no target) CPUs busy on average (of $NCPU) in the fastest backup: 2 workers, 1 worker and the caller, serial | $(cpus "$ds|full|vault"), $(cpus "$ds|full (1 worker)|vault"), $(cpus "$ds|full (serial)|vault") | | |"
	pk=$(get "$ds" full vault 7); echo "| $ds | backend private memory growth, 2 workers (MB) | $pk | 64 | $(check "$pk" 64) |"
	pk=$(get "$ds" full vault 8); echo "| $ds | a parallel worker's private memory (MB) | $pk | 64 | $(check "$pk" 64) |"
} >>"$report"

cat "$report"
if [ -n "${BENCH_OUT:-}" ]; then cp "$report" "$BENCH_OUT"; fi
dropdb $DB
