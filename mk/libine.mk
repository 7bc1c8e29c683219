# SPDX-License-Identifier: GPL-2.0
# libine: the application library (libine.so + libine.a) and its tools.
LIBINE_SRC := $(wildcard lib/libine/*.c)
LIBINE_OBJ := $(LIBINE_SRC:.c=.o)
LIBINE_SONAME := libine.so.1

all: lib/libine.so lib/libine.a tools/ine-send tools/ine-recv

lib/libine.a: $(LIBINE_OBJ)
	$(AR) rcs $@ $^

lib/libine.so: $(LIBINE_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIBINE_SONAME) -o $@ $^

# The tools link the static library: they run from the tree without
# LD_LIBRARY_PATH.
tools/ine-send tools/ine-recv: %: %.c lib/libine.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^

hostcheck vmcheck: lib/libine.so tools/ine-send tools/ine-recv

libine-hostcheck: ined inectl tools/ine-send tools/ine-recv
	tests/host/t-libine.sh

install-libine: lib/libine.so lib/libine.a
	install -D -m 0644 include/ine/ine.h $(DESTDIR)$(INCLUDEDIR)/ine/ine.h
	install -D -m 0755 lib/libine.so $(DESTDIR)$(LIBDIR)/$(LIBINE_SONAME)
	ln -sf $(LIBINE_SONAME) $(DESTDIR)$(LIBDIR)/libine.so
	install -D -m 0644 lib/libine.a $(DESTDIR)$(LIBDIR)/libine.a
	install -D -m 0755 tools/ine-send $(DESTDIR)$(BINDIR)/ine-send
	install -D -m 0755 tools/ine-recv $(DESTDIR)$(BINDIR)/ine-recv

clean: libine-clean
libine-clean:
	rm -f lib/libine/*.o lib/libine/*.d lib/libine.so lib/libine.a tools/ine-send tools/ine-recv tools/*.d

-include $(wildcard lib/libine/*.d)
.PHONY: libine-hostcheck install-libine libine-clean

# A VM test app that is a libine application.
tests/vm/keyguard_app: lib/libine.a
