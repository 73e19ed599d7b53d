# vault: PGXS build of the extension, plus the two user-facing commands
#   make demo   set-up, then the main job on a throwaway cluster
#   make test   set-up, then every test suite (what .ci/run calls)

EXTENSION   = vault
MODULE_big  = vault
# src/ is grouped by layer (README "Layout"): every .c of every layer folder
LAYERS      = pure access store replica stream monitor parallel api worker
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c) $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))))
DATA        = sql/vault--1.0.sql sql/vault--1.0--1.1.sql
PGFILEDESC  = "vault - backup vault inside PostgreSQL"

# pg_regress scripts: every sql/*.sql except the extension scripts, in name
# order, then those that make many recovery points (whose ids the others print)
REGRESS_LAST = policies access protection redundancy alerts monitoring advisor compression deltas parallel scale
REGRESS      = $(filter-out $(REGRESS_LAST),$(patsubst sql/%.sql,%,$(sort $(filter-out sql/vault--%.sql,$(wildcard sql/*.sql))))) $(REGRESS_LAST)
REGRESS_OPTS = --load-extension=pgcrypto --load-extension=vault
ISOLATION    = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -Isrc -Isrc/pure
PG_CFLAGS   = -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK  = -llz4 -lzstd -lcrypto

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else
# headers not installed yet: only 'make test' / 'make demo' (which install them) make sense
all:
	@echo "postgresql-server-dev-15 is not installed; run 'make test' or 'make demo', which install it" >&2; exit 1
endif

.PHONY: test demo unit fuzz bench bench-scale

test:
	bash test/run.sh test

demo:
	bash test/run.sh demo

# the benchmark against pg_dump, restic and borg (not part of make test)
bench:
	bash test/run.sh bench

# how a vault's reads and chores grow from 200 thousand to 2 million chunks
# (not part of make test)
bench-scale:
	bash test/run.sh scale

# pure-C unit tests and fuzzers (no server needed)
POLICY_SRC = src/pure/civil.c src/pure/duration.c src/pure/policy_lex.c src/pure/schedule.c src/pure/schedule_text.c src/pure/retention.c

unit:
	$(CC) -O2 -Wall -Wextra -Isrc/pure src/pure/chunker.c src/pure/codec.c test/unit/test_pure.c -llz4 -lzstd -lcrypto -o test/unit/test_pure
	$(CC) -O2 -Wall -Wextra -Isrc/pure $(POLICY_SRC) test/unit/test_policy.c -o test/unit/test_policy
	$(CC) -O2 -Wall -Wextra -Isrc/pure src/pure/toposort.c test/unit/test_toposort.c -o test/unit/test_toposort
	$(CC) -O2 -Wall -Wextra -Isrc/pure src/pure/openpgp.c src/pure/pgp_armor.c test/unit/test_openpgp.c -lcrypto -o test/unit/test_openpgp
	$(CC) -O2 -Wall -Wextra -Isrc/pure src/pure/delta.c src/pure/delta_match.c test/unit/test_delta.c -lzstd -o test/unit/test_delta
	$(CC) -O2 -Wall -Wextra -Isrc/pure src/pure/copybin.c test/unit/test_copybin.c -o test/unit/test_copybin
	./test/unit/test_pure
	./test/unit/test_policy
	./test/unit/test_toposort
	./test/unit/test_openpgp
	./test/unit/test_delta
	./test/unit/test_copybin

# bounded fuzz runs; new inputs go to a temp dir, the seed corpora stay as they are
FUZZ_SECONDS ?= 20
fuzz:
	@d=$$(mktemp -d) && \
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/pure src/pure/codec.c test/fuzz/fuzz_codec_open.c -llz4 -lzstd -lcrypto -o $$d/fuzz_codec_open && \
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/pure src/pure/chunker.c test/fuzz/fuzz_chunker.c -o $$d/fuzz_chunker && \
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/pure $(POLICY_SRC) test/fuzz/fuzz_schedule.c -o $$d/fuzz_schedule && \
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/pure $(POLICY_SRC) test/fuzz/fuzz_retention.c -o $$d/fuzz_retention && \
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/pure src/pure/openpgp.c src/pure/pgp_armor.c test/fuzz/fuzz_openpgp.c -lcrypto -o $$d/fuzz_openpgp && \
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/pure src/pure/delta.c src/pure/delta_match.c test/fuzz/fuzz_delta.c -lzstd -o $$d/fuzz_delta && \
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/pure src/pure/copybin.c test/fuzz/fuzz_copybin.c -o $$d/fuzz_copybin && \
	mkdir $$d/c1 $$d/c2 $$d/c3 $$d/c4 $$d/c5 $$d/c6 $$d/c7 && \
	(cd $$d && ./fuzz_codec_open -max_total_time=$(FUZZ_SECONDS) c1 $(CURDIR)/test/fuzz/corpus_codec) && \
	(cd $$d && ./fuzz_chunker -max_total_time=$(FUZZ_SECONDS) c2 $(CURDIR)/test/fuzz/corpus_chunker) && \
	(cd $$d && ./fuzz_schedule -max_total_time=$(FUZZ_SECONDS) c3 $(CURDIR)/test/fuzz/corpus_schedule) && \
	(cd $$d && ./fuzz_retention -max_total_time=$(FUZZ_SECONDS) c4 $(CURDIR)/test/fuzz/corpus_retention) && \
	(cd $$d && ./fuzz_openpgp -max_total_time=$(FUZZ_SECONDS) c5 $(CURDIR)/test/fuzz/corpus_openpgp) && \
	(cd $$d && ./fuzz_delta -max_total_time=$(FUZZ_SECONDS) c6 $(CURDIR)/test/fuzz/corpus_delta) && \
	(cd $$d && ./fuzz_copybin -max_total_time=$(FUZZ_SECONDS) c7 $(CURDIR)/test/fuzz/corpus_copybin); \
	rc=$$?; rm -rf $$d; exit $$rc

print-regress:
	@echo $(REGRESS)
