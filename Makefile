# Thin wrapper: every target first installs what it needs (scripts/bootstrap).
.PHONY: run test bench bootstrap clean

bootstrap:
	@scripts/bootstrap

# The main job: until DaemonEye exists, a real airssys-osl run under the
# bundled example policy, printing the audit records it produced.
run: bootstrap
	@scripts/build release airssys-osl
	@scripts/demo build/release/osl/airssys-osl

# The whole test suite: ASan+UBSan build (dev), ThreadSanitizer suites (tsan),
# and the libFuzzer targets run briefly (fuzz).
test: bootstrap
	@scripts/build dev
	ctest --preset dev
	@scripts/build tsan
	ctest --preset tsan
	@scripts/build fuzz
	ctest --preset fuzz

bench: bootstrap
	@scripts/build release
	@scripts/run-benchmarks

clean:
	rm -rf build
