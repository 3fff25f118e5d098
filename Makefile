# Thin wrapper: every target first installs what it needs (scripts/bootstrap).
.PHONY: run run-osl test package-check bench bootstrap clean

bootstrap:
	@scripts/bootstrap

# The main job: DaemonEye end to end — daemoneye-agent with procmond and the
# bundled rules catches a planted process, prints the alert as it arrives,
# and the audit ledger is verified (scripts/demo-daemoneye).
run: bootstrap
	@scripts/build release daemoneye-agent procmond daemoneye-cli airssys-ledger
	@scripts/demo-daemoneye build/release

# A real airssys-osl run under the bundled example policy, printing the
# audit records it produced.
run-osl: bootstrap
	@scripts/build release airssys-osl
	@scripts/demo build/release/osl/airssys-osl

# The whole test suite (scripts/test-all): ASan+UBSan build (dev) and its
# ctest, ThreadSanitizer suites (tsan), the libFuzzer targets run briefly
# (fuzz), and the .deb packages built and checked (package-check, below).
# dev builds everything (its install.* tests install the whole tree); tsan
# and fuzz build only what their ctest runs (airssys_tests, airssys_fuzzers:
# CMakeLists.txt). While the dev suite runs, the tsan, fuzz and package
# builds go ahead in the background at nice 19 (BUILD_AHEAD=0: strictly in
# order).
test: bootstrap
	@scripts/test-all

# The .deb packages, built (the `package` preset) and checked: lintian, a
# scratch root with every package unpacked, --version of each program, the
# consumer built against the packaged libraries, systemd-analyze verify on
# the units (scripts/package-check). Output: build/package/packages/.
package-check: bootstrap
	@scripts/package-check

bench: bootstrap
	@scripts/build release
	@scripts/run-benchmarks

clean:
	rm -rf build
