#!/usr/bin/env bash
# test/run.sh: the machinery behind `make test` and `make demo`.
#
#   bash test/run.sh test   install what is missing, build warning-free, install,
#                           then run every suite (unit, fuzz, pg_regress,
#                           isolation, TAP) against throwaway clusters
#   bash test/run.sh demo   the same set-up, then test/demo.sql on a throwaway cluster
#   bash test/run.sh bench  the same set-up plus the peers, then bench/bench.sh
#   bash test/run.sh scale  the same set-up, then bench/scale.sh (a vault of
#                           200 thousand, then 2 million chunks)
#
# initdb refuses to run as root, so when started as root the script builds and
# installs, copies the tree to a temp dir owned by the unprivileged 'postgres'
# user and runs the server-side stages as that user.  Every cluster it starts
# lives in a temp dir with its own port and socket dir, and is stopped and
# removed on exit, failure included.
set -euo pipefail

mode=${1:-test}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

PG_MAJOR=15
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin

log() { printf '== %s\n' "$*"; }

# --- set-up: packages, build, install (root) -------------------------------
install_deps() {
	local need=()
	# pgxs.mk alone is not enough: the postgresql-15 package ships it too, but the
	# server headers come only with postgresql-server-dev-15
	{ [ -f /usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/makefiles/pgxs.mk ] &&
	  [ -f /usr/include/postgresql/$PG_MAJOR/server/postgres.h ]; } || need+=(postgresql-server-dev-$PG_MAJOR)
	[ -x $PGBIN/postgres ] || need+=(postgresql-$PG_MAJOR)
	[ -f /usr/share/postgresql/$PG_MAJOR/extension/pgcrypto.control ] || need+=(postgresql-contrib-$PG_MAJOR postgresql-$PG_MAJOR)
	[ -x $PGBIN/pgbench ] || need+=(postgresql-client-$PG_MAJOR)
	[ -f /usr/include/lz4.h ] || need+=(liblz4-dev)
	[ -f /usr/include/zstd.h ] || need+=(libzstd-dev)
	[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)
	perl -MIPC::Run -e1 2>/dev/null || need+=(libipc-run-perl)
	command -v gcc >/dev/null || need+=(gcc)
	command -v make >/dev/null || need+=(make)
	command -v clang >/dev/null || need+=(clang)
	command -v gpg >/dev/null || need+=(gnupg)		# customer keys: test keys made at test time
	[ -x /usr/bin/chromium ] || need+=(chromium)	# the HTML report, rendered headless
	command -v promtool >/dev/null || need+=(prometheus)	# vault_metrics() checked by promtool
	if [ "$mode" = bench ]; then
		command -v restic >/dev/null || need+=(restic)
		command -v borg >/dev/null || need+=(borgbackup)
		command -v lz4 >/dev/null || need+=(lz4)
	fi
	if [ ${#need[@]} -gt 0 ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "missing packages: ${need[*]} (run as root, or install them)" >&2
			exit 1
		fi
		log "installing: ${need[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq "${need[@]}" >/dev/null
	fi
}

build_and_install() {
	export PG_CONFIG=$PGBIN/pg_config
	log "building"
	make -s clean >/dev/null 2>&1 || true
	local blog
	blog=$(mktemp)
	if ! make -s PG_CONFIG=$PG_CONFIG >"$blog" 2>&1; then
		cat "$blog"; echo "build failed" >&2; exit 1
	fi
	if grep -q 'warning:' "$blog"; then
		cat "$blog"; echo "build printed compiler warnings" >&2; exit 1
	fi
	rm -f "$blog"
	log "installing the extension"
	make -s PG_CONFIG=$PG_CONFIG install >/dev/null
}

# --- throwaway cluster ------------------------------------------------------
cluster_start() {
	CLUSTER=$(mktemp -d /tmp/vault-cluster.XXXXXX)
	PGPORT=$(( 20000 + RANDOM % 20000 ))
	PGHOST=$CLUSTER/sock
	mkdir -p "$PGHOST"
	export PGPORT PGHOST
	$PGBIN/initdb -D "$CLUSTER/data" -A trust -E UTF8 --no-locale --no-sync >"$CLUSTER/initdb.log" 2>&1 \
		|| { cat "$CLUSTER/initdb.log"; exit 1; }
	cat >>"$CLUSTER/data/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$PGHOST'
shared_preload_libraries = 'vault'
fsync = off
max_connections = 40
max_prepared_transactions = 10
log_line_prefix = '%m [%p] '
# the suites here drive the periodic work with an explicit clock
# (vault_run_due); the real scheduler is tested in test/t/020_scheduler.pl
vault.scheduler = off
CONF
	$PGBIN/pg_ctl -D "$CLUSTER/data" -l "$CLUSTER/server.log" -w start >/dev/null
	log "cluster up in $CLUSTER (port $PGPORT)"
}

cluster_stop() {
	if [ -n "${CLUSTER:-}" ] && [ -d "$CLUSTER" ]; then
		$PGBIN/pg_ctl -D "$CLUSTER/data" -m fast -w stop >/dev/null 2>&1 || true
		rm -rf "$CLUSTER"
	fi
}

# --- stages run as the unprivileged user ------------------------------------
failures=()

run_unit() {
	log "unit tests (pure C)"
	make -s unit || failures+=(unit)
}

run_fuzz() {
	log "fuzz targets (bounded, ${FUZZ_SECONDS:-10} s each)"
	make -s fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-10} >fuzz.log 2>&1 || { tail -60 fuzz.log; failures+=(fuzz); }
	grep -E '^Done [0-9]+ runs' fuzz.log | sed 's/^/   /' || true
	rm -f fuzz.log
}

# one pg_regress run on a cluster of its own (the suites create roles,
# which outlive a database): run_pg_regress <label> <PGOPTIONS> <tests...>
run_pg_regress() {
	local label=$1 opts=$2; shift 2
	cluster_start
	local out=$CLUSTER/regress-$label
	mkdir -p "$out"
	log "pg_regress ($label): $*"
	if ! PGOPTIONS="$opts" /usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress \
			--host="$PGHOST" --port="$PGPORT" --bindir=$PGBIN \
			--inputdir=. --outputdir="$out" --dbname=vault_regress \
			--load-extension=pgcrypto --load-extension=vault "$@"; then
		[ -f "$out/regression.diffs" ] && head -300 "$out/regression.diffs"
		failures+=("regress ($label)")
	fi
	cluster_stop
}

# The whole suite with the parallel pipeline on even for the suites' small
# tables (two workers, the default), then the suites that back up the most
# kinds of tables again with one worker and with none (the serial path),
# and the parallel ones with the calling backend only storing what its
# workers send (vault.parallel_leader_participation off).
PARALLEL_SUBSET="core keys policy_types rights schema schema_objects types unchanged compression deltas"
NO_LEADER_SUBSET="core deltas parallel"
run_regress() {
	local tests
	tests=$(make -s -f Makefile print-regress 2>/dev/null || true)
	[ -n "$tests" ] || return 0
	run_pg_regress "2 workers" "-c min_parallel_table_scan_size=0" $tests
	run_pg_regress "1 worker" "-c min_parallel_table_scan_size=0 -c vault.max_parallel_workers=1" $PARALLEL_SUBSET
	run_pg_regress "serial" "-c vault.max_parallel_workers=0" $PARALLEL_SUBSET
	run_pg_regress "2 workers, the caller only storing" \
		"-c min_parallel_table_scan_size=0 -c vault.parallel_leader_participation=off" $NO_LEADER_SUBSET
}

run_isolation() {
	local specs=() f
	for f in test/isolation/specs/*.spec; do
		[ -e "$f" ] && specs+=("$(basename "$f" .spec)")
	done
	[ ${#specs[@]} -gt 0 ] || return 0
	log "isolation: ${specs[*]}"
	local out=$CLUSTER/isolation
	mkdir -p "$out"
	if ! /usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/isolation/pg_isolation_regress \
			--host="$PGHOST" --port="$PGPORT" --bindir=$PGBIN \
			--inputdir=test/isolation --outputdir="$out" --dbname=vault_isolation \
			--load-extension=pgcrypto --load-extension=vault "${specs[@]}"; then
		[ -f "$out/regression.diffs" ] && head -300 "$out/regression.diffs"
		failures+=(isolation)
	fi
}

# TAP: every test with the parallel pipeline on for tables of any size,
# then those about integrity, consistency and dedup with one worker and
# with none.  VAULT_TAP_CONF reaches every node (test/perl/VaultNode.pm).
PARALLEL_TAP_SUBSET="test/t/010_integrity.pl test/t/013_pgbench_consistency.pl test/t/014_dedup.pl"
run_prove() {
	local label=$1 conf=$2; shift 2
	local tmp
	tmp=$(mktemp -d /tmp/vault-tap.XXXXXX)
	log "TAP ($label)"
	if ! VAULT_TAP_CONF="$conf" PATH=$PGBIN:$PATH TESTDIR="$tmp" \
			PG_REGRESS=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress \
			prove -I /usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/perl -I test/perl "$@"; then
		for f in "$tmp"/tmp_check/log/regress_log_*; do
			[ -f "$f" ] && { echo "--- $f"; tail -60 "$f"; }
		done
		failures+=("tap ($label)")
	fi
	rm -rf "$tmp"
}

run_tap() {
	compgen -G 'test/t/*.pl' >/dev/null || return 0
	run_prove "2 workers" "min_parallel_table_scan_size = 0" test/t/*.pl
	run_prove "1 worker" $'min_parallel_table_scan_size = 0\nvault.max_parallel_workers = 1' $PARALLEL_TAP_SUBSET
	run_prove "serial" "vault.max_parallel_workers = 0" $PARALLEL_TAP_SUBSET
}

tests_as_user() {
	trap cluster_stop EXIT
	run_unit
	run_fuzz
	run_regress
	cluster_start
	run_isolation
	cluster_stop
	run_tap
	# unit, fuzz, pg_regress x4, isolation, TAP x3
	local total=10
	if [ ${#failures[@]} -gt 0 ]; then
		printf 'failed: %s\n' "${failures[@]}"
		echo "suite runs: $((total - ${#failures[@]})) passed, ${#failures[@]} failed"
		exit 1
	fi
	echo "suite runs: $total passed, 0 failed"
}

bench_as_user() {
	trap cluster_stop EXIT
	cluster_start
	bash bench/bench.sh
}

scale_as_user() {
	trap cluster_stop EXIT
	cluster_start
	bash bench/scale.sh
}

demo_as_user() {
	trap cluster_stop EXIT
	cluster_start
	$PGBIN/psql -X -q -v ON_ERROR_STOP=1 -d postgres -f test/demo.sql
}

# --- dispatch ---------------------------------------------------------------
case "$mode" in
	test|demo|bench|scale)
		install_deps
		build_and_install
		if [ "$(id -u)" = 0 ]; then
			work=$(mktemp -d /tmp/vault-work.XXXXXX)
			trap 'rm -rf "$work"' EXIT
			tar --exclude=.git -cf - . | tar -xf - -C "$work"
			chown -R postgres: "$work"
			rc=0
			(cd "$work" && runuser -u postgres -- bash test/run.sh "_$mode") || rc=$?
			exit $rc
		fi
		cd "$here"
		"${mode}_as_user"
		;;
	_test) tests_as_user ;;
	_demo) demo_as_user ;;
	_bench) bench_as_user ;;
	_scale) scale_as_user ;;
	*) echo "usage: $0 test|demo|bench|scale" >&2; exit 2 ;;
esac
