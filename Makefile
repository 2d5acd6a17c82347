# Bulkhead: build, test, run and install. Every target installs the Debian packages it needs.
SHELL := /bin/bash
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= /etc/systemd/system
DESTDIR ?=
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
# Debian packages: C libraries we link (libnftnl, libmnl, libyaml, libsystemd), and the tools the
# tests use as an independent oracle (nft, ip), for probing connections (python3) and for
# checking the unit file (systemd-analyze).
PACKAGES := pkg-config libnftnl-dev libmnl-dev libyaml-dev libsystemd-dev nftables iproute2 python3 systemd
RELEASE_BIN := .build/release/bulkhead
NETNS := bulkhead-run-$(shell echo $$$$)

.PHONY: all deps build release test run bench install clean help

all: build

help:
	@echo "make run      build and try bulkhead on the example model in segments/"
	@echo "make test     build and run every test (kernel tests need root; they use private network namespaces)"
	@echo "make build    debug build;  make release: optimised, statically linked Swift runtime"
	@echo "make bench    benchmarks against nft in throwaway namespaces; results in bench/ and README"
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
	$(SWIFT) test --skip-build --disable-xctest

# Benchmarks side by side with nft (root; throwaway namespaces; ~10 minutes on 2 cores).
bench: release
	@dpkg-query -W -f='$${Status}\n' gnuplot-nox 2>/dev/null | grep -q "install ok installed" || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox)
	python3 bench/bench.py

run: release
	@$(RELEASE_BIN) check -s segments -c systemd/bulkhead.yaml
	@ip netns add $(NETNS) && ip -n $(NETNS) link set lo up && \
	trap 'ip netns del $(NETNS); rm -rf /tmp/$(NETNS)' EXIT && \
	echo "" && \
	echo "bulkhead runs in the throwaway network namespace $(NETNS) on segments/ (Ctrl-C stops it and removes the namespace)." && \
	echo "From a second shell:" && \
	echo "  $(RELEASE_BIN) status --status /tmp/$(NETNS)/status.json      # what it enforces, drift, heals" && \
	echo "  ip netns exec $(NETNS) nft list table inet bulkhead             # the live table" && \
	echo "  ip netns exec $(NETNS) nft add rule inet bulkhead input tcp dport 4444 accept   # tamper: refused, the table is locked" && \
	echo "  edit segments/*.yaml                                              # applied when valid; errors shown when not" && \
	echo "" && \
	$(RELEASE_BIN) run -c systemd/bulkhead.yaml -s segments --netns $(NETNS) \
		--state /tmp/$(NETNS)/state --status /tmp/$(NETNS)/status.json --metrics /tmp/$(NETNS)/metrics.prom

install: release
	install -D -m 0755 $(RELEASE_BIN) $(DESTDIR)$(PREFIX)/bin/bulkhead
	install -D -m 0644 systemd/bulkhead.service $(DESTDIR)$(SYSTEMDUNITDIR)/bulkhead.service
	sed -i 's#/usr/local/#$(PREFIX)/#g' $(DESTDIR)$(SYSTEMDUNITDIR)/bulkhead.service
	install -D -m 0644 systemd/bulkhead-alerts.yaml $(DESTDIR)$(PREFIX)/share/doc/bulkhead/bulkhead-alerts.yaml
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/bulkhead/README.md
	install -D -m 0644 systemd/bulkhead.yaml $(DESTDIR)$(SYSCONFDIR)/bulkhead/bulkhead.yaml.example
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/bulkhead/bulkhead.yaml ]; then \
		install -D -m 0644 systemd/bulkhead.yaml $(DESTDIR)$(SYSCONFDIR)/bulkhead/bulkhead.yaml; fi
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/bulkhead/segments

clean:
	rm -rf .build
