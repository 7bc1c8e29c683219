# SPDX-License-Identifier: GPL-2.0
# deb.mk — `make deb`: ine, ine-dkms, libine1 and libine-dev in build/deb/,
# built with debhelper (debian/) from a copy of the tree's files (tracked
# and new, not ignored) so the working tree is not touched; then lintian.
DEB_DIR := build/deb
DEB_SRC  = $(DEB_DIR)/ine-$(INE_VERSION)

deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	git ls-files -z -co --exclude-standard | \
	  tar -c --null -T - --ignore-failed-read -f - | tar -x -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	lintian --info --fail-on error,warning $(DEB_DIR)/*.changes

.PHONY: deb

# Every source names its license (tools/spdx-check lists those that do not).
# Part of `make unit`; tools/spdx-add tags new files.
lint: spdx-check man-check
spdx-check:
	@tools/spdx-check || { echo "sources above lack an SPDX line (tools/spdx-add adds them)"; exit 1; }

.PHONY: lint spdx-check

# The packages in the VM (tests/vm/t-deb.sh): not in `make vmcheck`, it
# needs the .debs and a DKMS build under emulation (> 5 min).
vmcheck-deb: deb
	INE_VM_TESTS=t-deb INE_VM_TEST_TIMEOUT=1500 tools/vm-run --timeout 1700 -- tests/vm/run-all

.PHONY: vmcheck-deb
