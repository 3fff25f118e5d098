// libFuzzer target: the ledger's on-disk readers (open, entry, roots,
// proofs, verify) over a damaged ledger directory. A valid 7-entry ledger is
// built once; each input patches one of its files: byte 0 picks the file
// (head, entries, offsets, tree) and whether to truncate it, bytes 1-2 the
// offset, the rest the bytes written there. Every call must return a value
// or an error — never crash, hang, throw or read out of bounds.

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace L = airssys::ledger;
namespace fs = std::filesystem;

namespace {

constexpr std::array<const char*, 4> kFiles = {"head", "entries", "offsets", "tree"};

struct Template {
  fs::path work;
  std::map<std::string, std::string> files;  // the valid ledger's bytes
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

const Template& the_template() {
  static const Template t = [] {
    std::string base = (fs::temp_directory_path() / "airssys-ledger-entry-fuzz-XXXXXX").string();
    if (::mkdtemp(base.data()) == nullptr) std::abort();
    Template out;
    const fs::path valid = fs::path(base) / "valid";
    {
      auto l = L::Ledger::create(valid);
      if (!l) std::abort();
      for (const char* e : {"", "a", "bb", "audit record", "x", "yy", "last entry"}) {
        const std::string s(e);
        if (!(*l)->append(L::ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()))) std::abort();
      }
    }
    for (const char* f : kFiles) out.files[f] = slurp(valid / f);
    out.work = fs::path(base) / "work";
    fs::copy(valid, out.work, fs::copy_options::recursive);
    // Removed when the fuzzer exits normally; a crash leaves it for inspection.
    static const struct Cleanup {
      fs::path dir;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } cleanup{base};
    return out;
  }();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const Template& t = the_template();
  for (const auto& [name, bytes] : t.files) spit(t.work / name, bytes);
  const std::string name = kFiles[data[0] % kFiles.size()];
  const bool truncate = (data[0] & 0x80) != 0;
  const std::size_t offset = static_cast<std::size_t>(data[1]) | (static_cast<std::size_t>(data[2]) << 8);
  std::string bytes = t.files.at(name);
  const std::string patch(reinterpret_cast<const char*>(data + 3), size - 3);
  if (truncate) {
    bytes.resize(std::min(bytes.size(), offset));
  } else {
    if (bytes.size() < offset + patch.size()) bytes.resize(offset + patch.size(), '\0');
    bytes.replace(offset, patch.size(), patch);
  }
  spit(t.work / name, bytes);

  if (auto l = L::Ledger::open(t.work, L::OpenOptions{.read_only = true})) {
    const std::uint64_t n = (*l)->size();
    for (std::uint64_t i = 0; i < n && i < 16; ++i) {
      (void)(*l)->entry(i);
      (void)(*l)->leaf_hash(i);
      (void)(*l)->inclusion_proof(i, n);
      (void)(*l)->root(i);
      (void)(*l)->consistency_proof(i, n);
    }
    (void)(*l)->entry(n);
    (void)(*l)->root(n + 1);
  }
  (void)L::verify(t.work);
  return 0;
}
