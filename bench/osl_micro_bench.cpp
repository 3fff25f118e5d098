// osl_micro_bench — Google Benchmark programs for the pieces of the
// airssys-osl hot path: a policy decision against 100 rules, encoding one
// activity record, and fs.stat through the whole pipeline next to stat(2).
// (osl_bench reports per-call medians; this one gives the library view.)

#include <airssys/osl/system.hpp>

#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace {

namespace osl = airssys::osl;

std::string hundred_rules(const std::string& tree) {
  std::string y = "version: 1\nrules:\n";
  for (int i = 0; i < 99; ++i) {
    y += fmt::format(
        "  - id: filler-{0}\n    effect: {1}\n    principals: [\"user{0}\"]\n"
        "    operations: [\"fs.read\", \"fs.stat\"]\n    resources: [\"/srv/tree{0}/**\"]\n",
        i, i % 3 == 0 ? "deny" : "allow");
  }
  y += fmt::format("  - id: bench\n    effect: allow\n    principals: [\"bench\"]\n    operations: [\"fs.*\"]\n    resources: [\"{}/**\"]\n", tree);
  return y;
}

struct Fixture {
  std::string dir;
  std::string file;
  osl::Policy policy;
  std::unique_ptr<osl::System> sys;
  Fixture() {
    char tmpl[] = "/tmp/osl-micro-XXXXXX";
    dir = std::filesystem::canonical(::mkdtemp(tmpl)).string();
    file = dir + "/f";
    FILE* f = std::fopen(file.c_str(), "w");
    std::fputs("x", f);
    std::fclose(f);
    policy = *osl::Policy::parse(hundred_rules(dir));
    osl::SystemOptions o;
    o.policy = policy;
    o.audit.sinks.push_back(std::move(*osl::make_file_sink({.path = dir + "/audit.jsonl", .max_bytes = 64ull << 20})));
    sys = std::make_unique<osl::System>(std::move(o));
  }
  ~Fixture() {
    sys.reset();
    std::filesystem::remove_all(dir);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_PolicyDecide100Rules(benchmark::State& state) {
  auto& f = fixture();
  const osl::ResourceRef ref{f.file};
  for (auto _ : state) {
    auto d = f.policy.decide("bench", osl::OpKind::fs_stat, std::span(&ref, 1));
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_PolicyDecide100Rules);

void BM_ActivityRecordToJson(benchmark::State& state) {
  osl::ActivityRecord r;
  r.ts = std::chrono::system_clock::now();
  r.op_id = 42;
  r.op = osl::OpKind::fs_read;
  r.principal = "alice";
  r.resources = {"/work/project/src/main.cpp"};
  r.decision = osl::DecisionKind::allow;
  r.rule = "read-workspace";
  r.outcome = "ok";
  r.duration_ns = 1234;
  for (auto _ : state) benchmark::DoNotOptimize(osl::to_json_line(r));
}
BENCHMARK(BM_ActivityRecordToJson);

void BM_RawStat(benchmark::State& state) {
  auto& f = fixture();
  struct stat st {};
  for (auto _ : state) benchmark::DoNotOptimize(::stat(f.file.c_str(), &st));
}
BENCHMARK(BM_RawStat);

void BM_PipelineStat(benchmark::State& state) {
  auto& f = fixture();
  const osl::fs::Stat op{f.file};
  for (auto _ : state) {
    auto r = f.sys->run("bench", op);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_PipelineStat);

}  // namespace

BENCHMARK_MAIN();
