// airssys-ledger benchmark (figures in docs/BENCHMARKS.md).
//
//   ledger_bench [WORKDIR]   (default: $TMPDIR or /tmp; needs ~1.5 GB free)
//
// 1. append_batch of 1,000,000 entries of 200 bytes, 1,000 per batch (one
//    group commit = 4 fdatasyncs per batch)
// 2. group commit: 8 threads each calling append() for single entries
// 3. verify of that 1,000,000-entry ledger, bytes/s next to raw SHA-256
// 4. a 10,000,000-entry ledger (32-byte entries: proof cost does not depend
//    on entry size): random inclusion and consistency proofs, mean and p99

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/merkle.hpp>
#include <airssys/ledger/verify.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace L = airssys::ledger;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void die(const L::Error& e) {
  fmt::print(stderr, "ledger_bench: {}\n", e.to_string());
  std::exit(1);
}

template <class T>
T must(L::Result<T> r) {
  if (!r) die(r.error());
  return std::move(*r);
}

std::filesystem::path fresh(const std::filesystem::path& base, const char* name) {
  auto p = base / name;
  std::filesystem::remove_all(p);
  return p;
}

// Fills `n` entries of `size` bytes in one contiguous buffer.
void append_entries(L::Ledger& l, std::uint64_t n, std::size_t size, std::size_t batch) {
  std::vector<std::uint8_t> buf(batch * size);
  std::vector<L::ByteView> views(batch);
  std::uint64_t done = 0;
  while (done < n) {
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(batch, n - done));
    for (std::size_t i = 0; i < k; ++i) {
      std::uint8_t* e = buf.data() + i * size;
      const std::uint64_t idx = done + i;
      std::memset(e, 'a' + static_cast<int>(idx % 26), size);
      std::memcpy(e, &idx, std::min<std::size_t>(8, size));
      views[i] = L::ByteView(e, size);
    }
    (void)must(l.append_batch(std::span(views).first(k)));
    done += k;
  }
}

struct Stats {
  double mean_us, p99_us;
};
Stats stats(std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double v : us) sum += v;
  return {sum / static_cast<double>(us.size()), us[us.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  const std::filesystem::path base = argc > 1 ? argv[1] : (tmp != nullptr && *tmp ? tmp : "/tmp");
  const std::uint64_t n1 = 1'000'000, n10 = 10'000'000;
  fmt::print("ledger_bench in {} ({} cores)\n\n", base.string(), std::thread::hardware_concurrency());

  // 1. Appends.
  const auto dir1 = fresh(base, "ledger-bench-1m");
  {
    auto l = must(L::Ledger::create(dir1));
    const auto t = Clock::now();
    append_entries(*l, n1, 200, 1000);
    const double s = seconds_since(t);
    fmt::print("append_batch   {} x 200 B, 1000/batch: {:.2f} s, {:.0f} entries/s, {:.1f} MB/s, {} fsync'd commits\n",
               n1, s, n1 / s, n1 * 200 / s / 1e6, n1 / 1000);
  }
  // 2. Group commit with concurrent single appends.
  {
    const auto dir = fresh(base, "ledger-bench-group");
    auto l = must(L::Ledger::create(dir));
    const int threads = 8, each = 20'000;
    std::vector<std::thread> ts;
    const auto t = Clock::now();
    for (int k = 0; k < threads; ++k)
      ts.emplace_back([&] {
        std::vector<std::uint8_t> e(200, 'g');
        for (int i = 0; i < each; ++i) (void)must(l->append(e));
      });
    for (auto& th : ts) th.join();
    const double s = seconds_since(t);
    fmt::print("append (group commit) {} threads x {} single appends of 200 B: {:.2f} s, {:.0f} entries/s\n", threads,
               each, s, threads * each / s);
    l.reset();
    std::filesystem::remove_all(dir);
  }
  // 3. verify.
  {
    const auto t = Clock::now();
    auto r = must(L::verify(dir1));
    const double s = seconds_since(t);
    if (!r.intact) die(L::Error::make(L::ErrorCategory::corrupt, r.problem));
    fmt::print("verify         {} entries: {:.3f} s, {:.0f} entries/s, entries {:.1f} MB/s, all hashed input {:.1f} MB/s\n",
               r.size, s, r.size / s, r.entry_bytes / s / 1e6, r.hashed_bytes / s / 1e6);
    // The same hashing with no I/O: the ceiling for verify.
    L::Hasher h;
    std::vector<std::uint8_t> e(200, 'x');
    L::Hash a{}, b{};
    const auto t2 = Clock::now();
    for (std::uint64_t i = 0; i < n1; ++i) {
      e[0] = static_cast<std::uint8_t>(i);
      a = h.leaf(e);
      b = h.node(a, b);
    }
    const double s2 = seconds_since(t2);
    fmt::print("hash only      {} leaf(200 B) + {} node hashes: {:.3f} s (verify spends {:.0f}% of its time hashing)\n",
               n1, n1, s2, 100 * s2 / s);
    std::vector<std::uint8_t> big(1 << 24, 'z');
    const auto t3 = Clock::now();
    for (int i = 0; i < 16; ++i) (void)h.digest(big);
    fmt::print("SHA-256 bulk   16 x 16 MiB through Hasher: {:.1f} MB/s\n", 16.0 * big.size() / seconds_since(t3) / 1e6);
  }
  std::filesystem::remove_all(dir1);

  // 4. Proofs at 10M.
  const auto dir10 = fresh(base, "ledger-bench-10m");
  {
    auto l = must(L::Ledger::create(dir10));
    const auto t = Clock::now();
    append_entries(*l, n10, 32, 10'000);
    fmt::print("\nbuild          {} x 32 B, 10000/batch: {:.1f} s\n", n10, seconds_since(t));
  }
  {
    auto l = must(L::Ledger::open(dir10, {.read_only = true}));
    std::mt19937_64 rng(42);
    const int iters = 200'000;
    std::vector<double> us;
    us.reserve(iters);
    std::size_t sink = 0;
    for (int i = 0; i < iters; ++i) {
      const std::uint64_t idx = rng() % n10;
      const auto t = Clock::now();
      auto p = must(l->inclusion_proof(idx, n10));
      us.push_back(seconds_since(t) * 1e6);
      sink += p.size();
    }
    auto st = stats(us);
    fmt::print("inclusion      size {}, random index: mean {:.2f} us, p99 {:.2f} us ({:.1f} hashes per proof)\n", n10,
               st.mean_us, st.p99_us, static_cast<double>(sink) / iters);
    us.clear();
    sink = 0;
    for (int i = 0; i < iters; ++i) {
      const std::uint64_t m = 1 + rng() % (n10 - 1);
      const auto t = Clock::now();
      auto p = must(l->consistency_proof(m, n10));
      us.push_back(seconds_since(t) * 1e6);
      sink += p.size();
    }
    st = stats(us);
    fmt::print("consistency    {} -> random older size: mean {:.2f} us, p99 {:.2f} us ({:.1f} hashes per proof)\n", n10,
               st.mean_us, st.p99_us, static_cast<double>(sink) / iters);
    us.clear();
    for (int i = 0; i < iters; ++i) {
      const std::uint64_t size = 1 + rng() % n10;
      const std::uint64_t idx = rng() % size;
      const auto t = Clock::now();
      auto p = must(l->inclusion_proof(idx, size));
      us.push_back(seconds_since(t) * 1e6);
      sink += p.size();
    }
    st = stats(us);
    fmt::print("inclusion      random older size, random index: mean {:.2f} us, p99 {:.2f} us\n", st.mean_us, st.p99_us);
  }
  std::filesystem::remove_all(dir10);
  return 0;
}
