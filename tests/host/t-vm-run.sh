#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-vm-run.sh — tools/vm-run hands the guest its command and the caller's
# INE_* variables byte for byte: arguments with a newline, a tab, both
# quotes, $, a backslash, spaces, a glob and an empty one; the guest's sh is
# dash, which must not see bash-only quoting ($'...').  The guest prints
# each argument and the variable in hex; the host compares with its own.
# Boots one VM (about 10 s; skips when vm-run cannot boot one here).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/ine.sh
[ -x "$(command -v qemu-system-x86_64)" ] && [ -e "/boot/vmlinuz-$(tools/kabi 2>/dev/null)" ] ||
	{ echo "t-vm-run: no qemu or VM kernel here"; exit 77; }

nl='
'
tab=$(printf '\t')
# hex STRING...: one line of hex per argument
hex() { for a; do printf %s "$a" | od -An -tx1 -v | tr -d ' \n'; echo; done; }
set -- "a${nl}b" "x${tab}y" "it's" 'say "hi"' '$HOME $(id) `id`' 'back\slash\n' \
	'  two  spaces  ' '*' '' "'"'\'' ; exit 3' "end$nl"
want=$(hex "$@"; hex "$*")
probe="var${nl}with 'quotes' \$x${tab}\\"
want_env=$(hex "$probe")

INE_VMRUN_PROBE=$probe tools/vm-run --timeout 300 -- sh -c '
	for a; do printf %s "$a" | od -An -tx1 -v | tr -d " \n"; echo; done
	printf %s "$*" | od -An -tx1 -v | tr -d " \n"; echo
	echo ENV
	printf %s "$INE_VMRUN_PROBE" | od -An -tx1 -v | tr -d " \n"; echo' sh "$@" >"$T/guest.out"
rc=$?
got=$(tr -d '\r' <"$T/guest.out")
expect_eq "vm-run exit status" "$rc" 0
args=$(printf '%s\n' "$got" | sed '/^ENV$/,$d')
env=$(printf '%s\n' "$got" | sed '1,/^ENV$/d')
[ "$args" = "$want" ] || fail "the guest got other arguments:$nl got:$nl$args${nl}want:$nl$want"
expect_eq "INE_VMRUN_PROBE in the guest" "$env" "$want_env"
note "$# arguments and one INE_* variable reached the guest byte for byte"
echo "t-vm-run: pass"
