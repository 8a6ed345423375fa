# signup-api: `make` builds, `make run` sets up and serves, `make test` sets up
# and runs every test. Flags from pkg-config are evaluated lazily (`=`), so
# `make run`/`make test` can install the packages before anything compiles.

CC      ?= gcc
BUILD   ?= build
PKGS    := libulfius jansson libpq libargon2 libesmtp-1.0 libcrypto libmicrohttpd libsodium
# OPT and SAN are what the sanitizer builds change; the rest is fixed.
OPT     ?= -O2 -g
SAN     ?=
CFLAGS  := $(OPT) $(SAN) -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Wshadow -Werror \
           -pthread -Iinclude
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS   = $(shell pkg-config --libs check)

# Layers, top to bottom; a file includes only headers implemented in its own
# layer or a lower one: app -> api -> auth -> db -> core, app -> mail -> db -> core.
LAYERS      := app api auth db mail core
SERVER_SRCS := $(foreach d,$(LAYERS),$(wildcard $(d)/*.c))
SERVER_OBJS := $(SERVER_SRCS:%.c=$(BUILD)/obj/%.o)

# A goal that compiles without installing first (plain `make`, `make tests`)
# on a machine without the -dev packages stops with one line naming them,
# instead of a screen of pkg-config and compiler errors. The goals listed here
# install the packages themselves before they compile.
SELF_INSTALLING_GOALS := deps run test test-asan test-plain test-valgrind bench clean format fuzz fuzz-corpus
SELF_INSTALLING_GOALS += test-cluster
SELF_INSTALLING_GOALS += bench-flood
ifeq ($(filter $(SELF_INSTALLING_GOALS),$(MAKECMDGOALS)),)
MISSING_PACKAGES := $(shell scripts/check-build-deps.sh $(PKGS) check)
ifneq ($(MISSING_PACKAGES),)
$(error missing packages: $(MISSING_PACKAGES); run 'make deps' (or 'make run'), then 'make' again)
endif
endif

# Unit tests link only the modules they test (plus what those need).
UNIT_TESTS := check_string_set check_signup_validation check_signup_request check_config check_password_hash \
              check_secret_token check_mime check_log check_phc_string check_bearer_token check_signin_request \
              check_password_verify \
              check_sodium_work_area check_client_ip
check_string_set_SRCS        := core/string_set.c
check_signup_validation_SRCS := auth/signup_validation.c core/string_set.c core/utf8.c
check_signup_request_SRCS    := api/signup_request.c api/json_body.c auth/signup_validation.c core/string_set.c core/utf8.c core/secret.c
check_config_SRCS            := core/config.c
check_password_hash_SRCS     := auth/password_hash.c auth/phc_string.c auth/sodium_work_area.c core/log.c core/secret.c
check_secret_token_SRCS      := auth/secret_token.c
check_sodium_work_area_SRCS  := auth/sodium_work_area.c
check_client_ip_SRCS         := api/client_ip.c core/string_set.c
check_mime_SRCS              := mail/mime.c
check_log_SRCS               := core/log.c
check_phc_string_SRCS        := auth/phc_string.c
check_bearer_token_SRCS      := api/bearer_token.c
check_signin_request_SRCS    := api/signin_request.c api/json_body.c auth/signup_validation.c core/string_set.c \
                                core/utf8.c core/secret.c
check_password_verify_SRCS   := auth/password_hash.c auth/phc_string.c auth/sodium_work_area.c core/log.c core/secret.c
UNIT_TESTS += check_capacity
check_capacity_SRCS          := core/capacity.c
# The integration suite drives the real server binary over HTTP and reads
# PostgreSQL directly; it links no server code.
INTEGRATION_TESTS := check_api_signup check_api_verify check_api_signin check_api_recovery check_api_hostile check_api_faults check_e2e
check_api_signup_SRCS := tests/support.c tests/api_assert.c
check_api_faults_SRCS := tests/support.c tests/mail_support.c tests/fault_support.c tests/api_assert.c
check_api_hostile_SRCS := tests/support.c tests/api_assert.c
check_api_verify_SRCS := tests/support.c tests/mail_support.c tests/api_assert.c
check_api_signin_SRCS := tests/support.c tests/mail_support.c tests/api_assert.c
check_api_recovery_SRCS := tests/support.c tests/mail_support.c tests/api_assert.c
check_e2e_SRCS        := tests/support.c
# Unit suite of the outbox's lease holders (processes, read from /proc).
UNIT_TESTS += check_lease_holder
check_lease_holder_SRCS := mail/lease_holder.c
INTEGRATION_TESTS += check_api_flood
check_api_flood_SRCS  := tests/support.c tests/mail_support.c tests/fault_support.c tests/flood_support.c

TEST_BINS := $(addprefix $(BUILD)/tests/,$(UNIT_TESTS) $(INTEGRATION_TESTS))

.PHONY: test-cluster
.PHONY: bench all run test test-plain test-asan test-valgrind tests clean format deps lint fuzz fuzz-corpus
all: $(BUILD)/signup-api

$(BUILD)/signup-api: $(SERVER_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/tests:
	@mkdir -p $@

.SECONDEXPANSION:
# Test programs compile their few sources directly, so each links exactly the
# modules listed for it.
$(BUILD)/tests/%: tests/%.c $$($$*_SRCS) $(wildcard include/*.h tests/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) -o $@ $(filter %.c,$^) $(PKG_LIBS) $(CHECK_LIBS)

tests: $(TEST_BINS) $(BUILD)/signup-api

deps:
	scripts/install-deps.sh

# Set-up (packages, PostgreSQL, mail catcher) then every suite; see scripts/test.sh.
# `make test` runs the AddressSanitizer + UBSan build: a memory error or leak
# anywhere fails the suites.
test: test-asan

test-asan:
	scripts/install-deps.sh
	$(MAKE) lint
	tests/fuzz/run.sh corpus
	$(MAKE) BUILD=build/asan OPT="-O1 -g" SAN="$(ASAN_FLAGS)" tests
	BUILD_DIR=build/asan scripts/test.sh

# The optimised build that `make run` serves.
test-plain:
	scripts/install-deps.sh
	$(MAKE) tests
	scripts/test.sh

# Unit and integration suites under valgrind memcheck (slow).
test-valgrind:
	scripts/install-deps.sh
	$(MAKE) tests
	VALGRIND=1 scripts/test.sh

# Scale-out on one machine (issue 16): PgBouncer, three API nodes, two
# workers and nginx, through limits, sessions, a PostgreSQL restart and
# kill -9; see tests/cluster/run.sh and docs/scaling.md.
test-cluster:
	scripts/install-deps.sh
	$(MAKE) all
	tests/cluster/run.sh

# Set-up then serve on http://127.0.0.1:8080 until Ctrl-C; see scripts/run.sh.
run:
	scripts/install-deps.sh
	$(MAKE) all
	scripts/run.sh

# libFuzzer harnesses (tests/fuzz/): `make fuzz` explores for FUZZ_SECONDS
# each and grows the corpus; `make test` replays the corpus.
FUZZ_SECONDS ?= 60
fuzz:
	tests/fuzz/run.sh fuzz $(FUZZ_SECONDS)

fuzz-corpus:
	tests/fuzz/run.sh corpus

# Benchmarks (not part of make test): see docs/performance.md.
bench:
	bench/run.sh

# The slow-client flood at full size (README "Under load"): bench/flood.sh.
.PHONY: bench-flood
bench-flood:
	scripts/install-deps.sh
	bench/flood.sh

# Static analysis: cppcheck, and clang-tidy with the checks in .clang-tidy.
lint:
	scripts/check-layers.sh
	cppcheck --error-exitcode=1 --enable=warning,performance,portability --std=c11 --inline-suppr --quiet \
	  -Iinclude -D_POSIX_C_SOURCE=200809L --suppress=missingIncludeSystem $(LAYERS)
	clang-tidy --quiet $(SERVER_SRCS) -- -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude $(PKG_CFLAGS)

format:
	clang-format -i $(SERVER_SRCS) $(wildcard include/*.h tests/*.c tests/*.h)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
