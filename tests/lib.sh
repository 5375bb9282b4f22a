#!/usr/bin/env bash
# Test library: `bash tests/lib.sh FILE.test` sources FILE and runs every
# function named test_*, each in a subshell, in a fresh scratch directory.
# A test passes by returning 0, skips by calling `skip REASON` (a missing
# kernel feature is a reported skip, never a silent pass), fails otherwise.
#
# Helpers for tests:
#   fail MSG                  fail with a message
#   skip REASON               skip with a reason
#   need_feature NAME         skip unless `sefaca --version` shows +NAME
#   need_cmd CMD              skip unless CMD is installed
#   expect_status N CMD...    run CMD, fail unless it exits N
#   expect_eq WANT GOT [MSG]  compare strings
#   expect_match REGEX TEXT [MSG]
#   run_sb ARGS...            sefaca-run with the test defaults (--quiet)
#   $SEFACA_HOME              a fresh sefaca home per test (audit log in
#                             $SEFACA_HOME/logs/audit.jsonl)
set -u
SEFACA_BIN=${SEFACA_BIN:?run through tests/run}
PATH=$SEFACA_BIN:$PATH
export PATH
PROBE=$SEFACA_BUILD/tests/probes/probe
FEATURES=$("$SEFACA_BUILD/sefaca" --version | sed -n 2p)

fail() { echo "$*" >"$SFC_T_REASON"; exit 1; }
skip() { echo "$*" >"$SFC_T_REASON"; exit 77; }
has_feature() { case " $FEATURES " in *" +$1 "*) return 0 ;; esac; return 1; }
need_feature() { has_feature "$1" || skip "feature $1 is not compiled in"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"; }
expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"; }
expect_match() { [[ $2 =~ $1 ]] || fail "${3:-output} does not match /$1/: $(printf %s "$2" | head -c 400)"; }
expect_status() {
	local want=$1 got
	shift
	"$@" >"$SFC_T_DIR/.out" 2>"$SFC_T_DIR/.err"
	got=$?
	[ "$got" = "$want" ] || fail "$* exited $got, expected $want; stderr: $(head -c 400 "$SFC_T_DIR/.err")"
}
run_sb() { sefaca-run --quiet "$@"; }

# ---- driver --------------------------------------------------------------
file=$1
name=$(basename "$file" .test)
# shellcheck disable=SC1090
. "$file"
for fn in $(declare -F | awk '{print $3}' | grep '^test_'); do
	dir=$(mktemp -d "${TMPDIR:-/tmp}/sefaca-t.XXXXXX")
	reason=$(mktemp "${TMPDIR:-/tmp}/sefaca-r.XXXXXX")
	# sefaca's home (config, audit log) of its own per test, outside the
	# scratch directory: no test reads the user's config or fills his log
	sfchome=$(mktemp -d "${TMPDIR:-/tmp}/sefaca-h.XXXXXX")
	start=$(date +%s%N)
	(
		export SFC_T_DIR=$dir SFC_T_REASON=$reason SEFACA_HOME=$sfchome
		cd "$dir" || exit 1
		"$fn"
	) </dev/null >"$dir.log" 2>&1
	rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	why=$(head -c 600 "$reason" | tr '\n' ' ')
	case $rc in
	0) line="PASS $name/$fn" ;;
	77) line="SKIP $name/$fn: $why" ;;
	*) line="FAIL $name/$fn: ${why:-exit $rc} $(tail -n 3 "$dir.log" | tr '\n' ' ' | head -c 300)" ;;
	esac
	echo "$line" >>"$SEFACA_RESULTS"
	printf '%s (%d ms)\n' "$line" "$ms"
	chmod -R u+rwX "$dir" 2>/dev/null
	rm -rf "$dir" "$dir.log" "$reason" "$sfchome"
done
