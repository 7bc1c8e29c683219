#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-check-circles.sh — tools/check-circles finds two files that call each
# other both ways and nothing else: a one-way call, a static function and a
# call through a function pointer are no circle; an allowed pair is known,
# an allowance whose pair was fixed is stale; no objects is an error.  Then
# the real tree (built objects): no circle outside tools/circles.allow.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/ine.sh

# obj NAME CODE: $T/NAME.o from CODE
obj() { mkdir -p "$(dirname "$T/$1")"; printf '%s\n' "$2" >"$T/$1.c";
	cc -c -o "$T/$1.o" "$T/$1.c" || ine_die "cc $1"; }
run() { out=$(tools/check-circles "$@" 2>&1); rc=$?; }

# Both ways: a.c calls b_f, b.c calls a_f.
obj two/a 'void b_f(void); void a_f(void) { b_f(); }'
obj two/b 'void a_f(void); void b_f(void) { } void b_g(void) { a_f(); }'
run "$T/two"
expect_eq "a circle's exit status" "$rc" 1
case $out in *"$T/two/a.c <-> $T/two/b.c"*"-> $T/two/b.c: b_f"*"-> $T/two/a.c: a_f"*) ;;
	*) ine_die "circle not named with its symbols: $out" ;; esac
note "ok: a.c <-> b.c found"

# One way, plus a static helper of the same name and a hook (pointer) back.
obj one/up 'void low_f(void (*cb)(void)); static void up_cb(void) { } void up_f(void) { low_f(up_cb); }'
obj one/low 'static void up_f(void) { } void low_f(void (*cb)(void)) { cb(); up_f(); }'
run "$T/one"
expect_eq "one-way exit status" "$rc" 0
expect_eq "one-way output" "$out" ""
note "ok: one-way calls, statics and hooks are no circle"

# The allow file: the pair is known and passes; a fixed pair is stale.
printf '# comment\n%s %s  # reason\n' "$T/two/b.c" "$T/two/a.c" >"$T/allow"
run --allow "$T/allow" "$T/two"
expect_eq "allowed circle's exit status" "$rc" 0
case $out in "known: $T/two/a.c <-> $T/two/b.c"*) ;; *) ine_die "not reported as known: $out" ;; esac
printf '%s %s\n' "$T/one/up.c" "$T/one/low.c" >"$T/allow"
run --allow "$T/allow" "$T/one"
expect_eq "stale allowance's exit status" "$rc" 1
case $out in *"stale: $T/one/low.c $T/one/up.c"*) ;; *) ine_die "stale allowance not reported: $out" ;; esac
echo 'just-one-word' >"$T/allow"
run --allow "$T/allow" "$T/one"
expect_eq "malformed allow file's exit status" "$rc" 2
note "ok: allowances known, stale ones fail, malformed ones refused"

mkdir -p "$T/empty"
run "$T/empty"
expect_eq "no objects' exit status" "$rc" 2
case $out in *"no object files under $T/empty"*) ;; *) ine_die "empty dir: $out" ;; esac
note "ok: nothing to read is an error, not a pass"

# The tree itself (make all first).
[ -e agent/daemon/daemon.o ] || ine_die "agent not built (make all)"
run
expect_eq "the tree's circles outside tools/circles.allow (exit status; $out)" "$rc" 0
note "ok: agent, lib/inenl${out:+, kmod}: no circle outside tools/circles.allow"
echo "PASS t-check-circles"
