#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The Debian packages on a real kernel: `make deb`'s .debs (build/deb/)
# installed into the VM's overlay with apt (the host root stays untouched).
# Checks: DKMS builds ine.ko for the running kernel and modprobe loads that
# build; the packaged inectl talks to it; the packaged unit passes
# systemd-analyze verify and loads its modules from modules-load.d; purge
# removes every file the packages installed, the DKMS build included.
. tests/vm/lib.sh
D=${INE_DEB_DIR:-$TOP/build/deb}	# INE_DEB_DIR: .debs from elsewhere
KREL=$(uname -r)
PKGS="ine ine-dkms libine1 libine-dev"
for p in $PKGS; do
	ls "$D"/${p}_*.deb >/dev/null 2>&1 || fail "no $p .deb in build/deb: run make deb"
done
for c in apt-get dpkg dkms systemd-analyze; do command -v $c >/dev/null || fail "$c is required"; done
[ -d /lib/modules/$KREL/build ] || fail "no kernel headers for $KREL (linux-headers-amd64)"
# dkms uses <(cmd), i.e. /dev/fd, which udev makes on a real system and
# the VM's bare devtmpfs lacks ("dkms will not function properly if /proc
# is not mounted", then "/dev/fd/63: No such file or directory").
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd || fail "cannot make /dev/fd"
# The suite may have loaded the tree's ine.ko; this test wants the package's.
rmmod ine 2>/dev/null
load_tls

# ine-dkms first, on its own: its postinst is the DKMS build (the slow
# step under emulation), timed apart from the rest.
t0=$(date +%s)
for set in "ine-dkms" "ine libine1 libine-dev"; do
	debs=""
	for p in $set; do debs="$debs $(ls "$D"/${p}_*.deb)"; done
	note "$(date +%T) apt install $set"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		$debs >"$T/apt.log" 2>&1 || { tail -40 "$T/apt.log"; fail "apt install $set"; }
	grep -i 'dkms\|error\|warn' "$T/apt.log" | sed 's/^/  apt: /' | head -20
done
note "apt installed $PKGS in $(( $(date +%s) - t0 ))s (DKMS build included)"
for p in $PKGS; do
	[ "$(dpkg-query -W -f '${db:Status-Status}' $p)" = installed ] || fail "$p not installed"
	dpkg -L $p >"$T/files.$p" || fail "dpkg -L $p"
done

dkms status ine >"$T/dkms" 2>&1
grep -q "$KREL.*installed" "$T/dkms" || { cat "$T/dkms"; fail "DKMS did not build ine for $KREL"; }
path=$(modinfo -n ine) || fail "modinfo ine: no module for $KREL"
case $path in
/lib/modules/$KREL/updates/dkms/ine.ko*) ;;
*) fail "modprobe would load $path, not DKMS's build" ;;
esac
modprobe ine || fail "modprobe ine"
[ "$(cat /sys/module/ine/srcversion)" = "$(modinfo -F srcversion ine)" ] ||
	fail "the loaded ine is not the DKMS build"
note "ok: DKMS built $path for $KREL; modprobe ine loaded it"

/usr/sbin/inectl show >"$T/show" 2>&1 || { cat "$T/show"; fail "packaged inectl show"; }
/usr/sbin/inectl show dump >"$T/dump" 2>&1 || { cat "$T/dump"; fail "inectl show dump"; }
grep -q '^module' "$T/dump" || { cat "$T/dump"; fail "inectl show dump has no module line"; }
note "ok: packaged inectl show talks to the packaged module"

u=/lib/systemd/system/ined.service
[ -f $u ] || fail "no $u"
grep -qx 'ExecStart=/usr/sbin/ined' $u || fail "unit does not start /usr/sbin/ined"
grep -qx 'ProtectKernelModules=yes' $u || fail "unit lacks ProtectKernelModules=yes"
SYSTEMD_LOG_LEVEL=notice systemd-analyze verify $u >"$T/verify" 2>&1 ||
	{ cat "$T/verify"; fail "systemd-analyze verify $u"; }
[ -s "$T/verify" ] && { cat "$T/verify"; fail "systemd-analyze verify printed warnings"; }
for m in tls ine; do
	grep -qx $m /usr/lib/modules-load.d/ine.conf || fail "modules-load.d/ine.conf lacks $m"
done
for m in ined.8 inectl.8 libine.3; do
	man -w ${m%.*} >/dev/null 2>&1 || [ -e /usr/share/man/man${m##*.}/$m.gz ] || fail "no man page $m"
done
note "ok: unit verified, modules-load.d lists tls and ine, man pages installed"

rmmod ine || fail "rmmod ine"
note "$(date +%T) apt purge"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $PKGS >"$T/purge.log" 2>&1 ||
	{ tail -40 "$T/purge.log"; fail "apt purge"; }
for p in $PKGS; do
	st=$(dpkg-query -W -f '${db:Status-Status}' $p 2>/dev/null)
	[ -z "$st" ] || [ "$st" = not-installed ] || fail "$p still $st after purge"
done
left=0
for p in $PKGS; do
	while read -r f; do
		[ -e "$f" ] && [ ! -d "$f" ] && { echo "  left behind ($p): $f"; left=$((left + 1)); }
	done <"$T/files.$p"
done
for f in /usr/src/ine-* /var/lib/dkms/ine /lib/modules/$KREL/updates/dkms/ine.ko* \
	 /etc/systemd/system/multi-user.target.wants/ined.service; do
	[ -e "$f" ] && { echo "  left behind: $f"; left=$((left + 1)); }
done
[ $left -eq 0 ] || fail "purge left $left files behind"
modinfo -n ine >/dev/null 2>&1 && fail "modinfo still finds ine after purge"
note "ok: purge removed every packaged file and DKMS's build"
exit 0
