# Bulkhead: build, test, run and install. Every target installs the Debian packages it needs.
SHELL := /bin/bash
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
# Debian packages: C libraries we link (libnftnl, libmnl, libyaml, libsystemd), and the tools the
# tests use as an independent oracle (nft, ip) and for probing connections (python3).
PACKAGES := pkg-config libnftnl-dev libmnl-dev libyaml-dev libsystemd-dev nftables iproute2 python3
RELEASE_BIN := .build/release/bulkhead
NETNS := bulkhead-run-$(shell echo $$$$)

.PHONY: all deps build release test run install clean help

all: build

help:
	@echo "make run      build and try bulkhead on the example model in segments/"
	@echo "make test     build and run every test (kernel tests need root; they use private network namespaces)"
	@echo "make build    debug build;  make release: optimised, statically linked Swift runtime"
	@echo "make install  install to \$$(DESTDIR)\$$(PREFIX) (PREFIX=$(PREFIX))"
	@echo "make deps     install missing Debian packages: $(PACKAGES)"

deps:
	@missing=""; \
	for package in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing missing packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --static-swift-stdlib

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

run: release
	@echo "== bulkhead check: validate the example model"
	$(RELEASE_BIN) check -s segments -c systemd/bulkhead.yaml
	@echo "== bulkhead render: the nftables table it compiles to"
	$(RELEASE_BIN) render -s segments -c systemd/bulkhead.yaml | tee /tmp/bulkhead-example.nft
	@echo "== nft -c: the kernel's own parser accepts it (in a throwaway network namespace)"
	@ip netns add $(NETNS) && trap 'ip netns del $(NETNS)' EXIT && \
		ip netns exec $(NETNS) nft -c -f /tmp/bulkhead-example.nft && echo "ok: nft accepts the ruleset"

install: release
	install -D -m 0755 $(RELEASE_BIN) $(DESTDIR)$(PREFIX)/bin/bulkhead
	install -D -m 0644 systemd/bulkhead.yaml $(DESTDIR)$(SYSCONFDIR)/bulkhead/bulkhead.yaml.example
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/bulkhead/bulkhead.yaml ]; then \
		install -D -m 0644 systemd/bulkhead.yaml $(DESTDIR)$(SYSCONFDIR)/bulkhead/bulkhead.yaml; fi
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/bulkhead/segments

clean:
	rm -rf .build
