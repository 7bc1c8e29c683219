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
