# Test library for the VM (busybox ash, POSIX sh): `sh lib.sh FILE.test`
# sources FILE and runs every function named test_*, each in a subshell in
# a fresh scratch directory, and appends PASS/FAIL/SKIP lines to $RESULTS.
# The same contract as tests/lib.sh: a missing kernel feature is a skip
# with its reason, never a silent pass.
#
#   fail MSG, skip REASON, need_feature NAME (of $SEFACA --version),
#   expect_eq WANT GOT [MSG], expect_match ERE TEXT [MSG],
#   expect_status N CMD... (output in $T/.out, $T/.err)
#   kv KEY FILE          the value of KEY=... in an sfcresult output
#   no_leaf              fail if a sefaca-* cgroup is left in $CG
: "${SEFACA:?}" "${RESULTS:?}"
PROBE=/opt/tests/cgprobe
SFCRESULT=/opt/tests/sfcresult
FEATURES=$("$SEFACA" --version | sed -n 2p)

fail() { echo "$*" >"$T_REASON"; exit 1; }
skip() { echo "$*" >"$T_REASON"; exit 77; }
note() { echo "$*" >"$T_REASON"; } # a measured figure, shown on the PASS line
has_feature() { case " $FEATURES " in *" +$1 "*) return 0 ;; esac; return 1; }
need_feature() { has_feature "$1" || skip "feature $1 is not compiled into $SEFACA"; }
expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"; }
expect_match() { printf '%s' "$2" | grep -Eq -- "$1" || fail "${3:-output} does not match /$1/: $(printf %s "$2" | head -c 400)"; }
expect_status() {
	want=$1
	shift
	"$@" >"$T/.out" 2>"$T/.err"
	got=$?
	[ "$got" = "$want" ] || fail "$* exited $got, expected $want; out: $(head -c 300 "$T/.out"); err: $(head -c 300 "$T/.err")"
}
kv() { sed -n "s/^$1=//p" "$2" | head -1; }
no_leaf() {
	left=$(find "${CG:?}" -maxdepth 2 -type d -name 'sefaca-*' 2>/dev/null)
	[ -z "$left" ] || fail "cgroup leaves left behind: $left"
}
run_sb() { "$SEFACA" run --quiet "$@"; }

file=$1
name=$(basename "$file" .test)
. "$file"
for fn in $(grep -o '^test_[A-Za-z0-9_]*()' "$file" | tr -d '()'); do
	T=$(mktemp -d /tmp/vmt.XXXXXX)
	T_REASON=$T.reason
	: >"$T_REASON"
	start=$(date +%s)
	(cd "$T" && "$fn") </dev/null >"$T.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	why=$(head -c 600 "$T_REASON" | tr '\n' ' ')
	case $rc in
	0) line="PASS $name/$fn${why:+: $why}" ;;
	77) line="SKIP $name/$fn: $why" ;;
	*) line="FAIL $name/$fn: ${why:-exit $rc} $(tail -n 5 "$T.log" | tr '\n' ' ' | head -c 400)" ;;
	esac
	echo "$line" >>"$RESULTS"
	echo "$line ($secs s)"
	rm -rf "$T" "$T.log" "$T_REASON"
done
