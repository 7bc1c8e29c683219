# SPDX-License-Identifier: GPL-2.0
# install.mk — `make install` (every file in its place under DESTDIR/PREFIX)
# and the pieces the Debian packages are assembled from (debian/rules).
#
#   make install [DESTDIR=/stage] [PREFIX=/usr/local] [KDIR=...]
#   make install-user      everything but ine.ko (what the .debs carry)
#   make install-module    ine.ko for KDIR's kernel (modules_install)
#   make install-dkms      ine.ko's source for DKMS, in /usr/src/ine-VERSION
#
# With DESTDIR set nothing outside it is touched: depmod runs only for a
# real install (the package's DKMS hook runs it on the target).

INE_VERSION  := $(shell sed -n 's/^\#define INE_VERSION "\(.*\)"/\1/p' kmod/version.h)
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
DATADIR      ?= $(PREFIX)/share
MANDIR       ?= $(DATADIR)/man
DOCDIR       ?= $(DATADIR)/doc/ine
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
COMPLETIONSDIR ?= $(DATADIR)/bash-completion/completions
# systemd's own answer for where units and modules-load.d files go.
UNITDIR      ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
MODLOADDIR   ?= $(or $(shell pkg-config --variable=modulesloaddir systemd 2>/dev/null),/usr/lib/modules-load.d)
# The kernel release KDIR builds for (depmod's argument).
KREL_CMD      = $(MAKE) -s -C $(KDIR) kernelrelease

MAN8 := man/ined.8 man/inectl.8
MAN3 := man/libine.3

# The unit names the paths this install uses (ExecStart=, Documentation=).
build/ined.service: systemd/ined.service
	@mkdir -p build
	sed -e "s|^ExecStart=/usr/sbin/ined|ExecStart=$(SBINDIR)/ined|" $< >$@

build/libine.pc:
	@mkdir -p build
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: libine' \
	  'Description: encrypted internode sockets from the local ine agent' \
	  'Version: $(INE_VERSION)' \
	  'Libs: -L$${libdir} -line' 'Cflags: -I$${includedir}' >$@

install: install-user install-module

install-user: ined inectl build/ined.service build/libine.pc install-libine
	install -D -m 0755 ined $(DESTDIR)$(SBINDIR)/ined
	install -D -m 0755 inectl $(DESTDIR)$(SBINDIR)/inectl
	install -D -m 0644 build/ined.service $(DESTDIR)$(UNITDIR)/ined.service
	install -D -m 0644 systemd/ine-modules.conf $(DESTDIR)$(MODLOADDIR)/ine.conf
	install -D -m 0644 systemd/modprobe-ine.conf $(DESTDIR)$(DOCDIR)/examples/modprobe.d/ine.conf
	install -D -m 0644 contrib/bash-completion/inectl $(DESTDIR)$(COMPLETIONSDIR)/inectl
	install -D -m 0644 build/libine.pc $(DESTDIR)$(PKGCONFIGDIR)/libine.pc
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man3
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/

install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install $(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR))
	$(if $(DESTDIR),@echo "DESTDIR set: run depmod on the target",depmod -a $$($(KREL_CMD)))

# What DKMS needs to build ine.ko for any kernel: Kbuild, the module, the uAPI.
DKMS_SRC := Kbuild $(wildcard kmod/*.c kmod/*.h) include/uapi/linux/ine.h
install-dkms:
	for f in $(DKMS_SRC); do \
	  install -D -m 0644 $$f $(DESTDIR)$(PREFIX)/src/ine-$(INE_VERSION)/$$f || exit 1; \
	done

.PHONY: install install-user install-module install-dkms build/ined.service build/libine.pc

# The man pages render without a single groff warning (man prints them on
# stderr and still exits 0, so any output fails).
man-check:
	@for f in $(MAN8) $(MAN3); do \
	  w=$$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z $$f 2>&1 >/dev/null); \
	  [ -z "$$w" ] || { echo "$$f:"; echo "$$w"; exit 1; }; \
	done; echo "man pages: $(words $(MAN8) $(MAN3)) render without warnings"

.PHONY: man-check
