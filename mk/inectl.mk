# SPDX-License-Identifier: GPL-2.0
# inectl.mk — inectl's HTTP client: libcurl (the REST API on the Unix socket).
# (libevent 2.1's evhttp client cannot connect to an AF_UNIX path.)
CPPFLAGS += $(shell pkg-config --cflags libcurl 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs libcurl 2>/dev/null)

# The API unit tests drive the server through inectl's own HTTP client.
tests/unit/unit-tests: tools/inectl/http.o
