# SPDX-License-Identifier: GPL-2.0
# store.mk — agent/store/'s etcd client: libcurl (etcd's v3 JSON gateway),
# and the driver of tests/host/t-store-etcd.sh (real etcd members).
CPPFLAGS += $(shell pkg-config --cflags libcurl 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs libcurl 2>/dev/null)

tests/host/store-driver: tests/host/store-driver.c agent/libine-agent.a $(INENL_LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

all: tests/host/store-driver
hostcheck: tests/host/store-driver
