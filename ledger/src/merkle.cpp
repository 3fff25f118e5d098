#include <airssys/ledger/merkle.hpp>

#include "tree_math.hpp"

#include <bit>
#include <new>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace airssys::ledger {

namespace {

// SHA-256 fetched once per process: implicit fetches inside EVP_DigestInit_ex
// would look the algorithm up again on every call.
const EVP_MD* sha256_md() {
  static EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) throw std::bad_alloc();
    return m;
  }();
  return md;
}

}  // namespace

struct Hasher::Impl {
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx{EVP_MD_CTX_new()};

  void begin() {
    if (EVP_DigestInit_ex2(ctx.get(), sha256_md(), nullptr) != 1) throw std::bad_alloc();
  }
  void update(const void* p, std::size_t n) {
    if (n != 0) EVP_DigestUpdate(ctx.get(), p, n);
  }
  Hash finish() {
    Hash out{};
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx.get(), out.data(), &len);
    return out;
  }
};

Hasher::Hasher() : impl_(std::make_unique<Impl>()) {
  if (!impl_->ctx) throw std::bad_alloc();
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

Hash Hasher::digest(ByteView data) {
  impl_->begin();
  impl_->update(data.data(), data.size());
  return impl_->finish();
}

Hash Hasher::leaf(ByteView entry) {
  static constexpr std::uint8_t prefix = 0x00;
  impl_->begin();
  impl_->update(&prefix, 1);
  impl_->update(entry.data(), entry.size());
  return impl_->finish();
}

Hash Hasher::node(const Hash& left, const Hash& right) {
  std::uint8_t buf[1 + 2 * kHashSize];
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf + 1);
  std::copy(right.begin(), right.end(), buf + 1 + kHashSize);
  impl_->begin();
  impl_->update(buf, sizeof buf);
  return impl_->finish();
}

namespace {
Hasher& local_hasher() {
  thread_local Hasher h;
  return h;
}
}  // namespace

Hash leaf_hash(ByteView entry) { return local_hasher().leaf(entry); }
Hash node_hash(const Hash& left, const Hash& right) { return local_hasher().node(left, right); }
const Hash& empty_tree_hash() {
  static const Hash h = Hasher().digest({});
  return h;
}

std::uint64_t split_point(std::uint64_t n) noexcept {
  // Largest power of two strictly below n.
  return std::bit_floor(n - 1);
}

Hash root_from_leaf_hashes(std::span<const Hash> leaves) {
  if (leaves.empty()) return empty_tree_hash();
  Hasher& h = local_hasher();
  // Stack of perfect subtrees (level, hash) along the right frontier.
  std::vector<std::pair<unsigned, Hash>> stack;
  for (const Hash& leaf : leaves) {
    stack.emplace_back(0u, leaf);
    while (stack.size() >= 2 && stack[stack.size() - 1].first == stack[stack.size() - 2].first) {
      auto right = stack.back();
      stack.pop_back();
      stack.back().second = h.node(stack.back().second, right.second);
      stack.back().first += 1;
    }
  }
  Hash acc = stack.back().second;
  for (std::size_t i = stack.size() - 1; i-- > 0;) acc = h.node(stack[i].second, acc);
  return acc;
}

namespace {
// Perfect nodes straight from leaf hashes: O(2^level) each, for the reference
// implementation and tests only.
auto memory_nodes(std::span<const Hash> leaves) {
  return [leaves](unsigned level, std::uint64_t index) -> Result<Hash> {
    const std::uint64_t width = std::uint64_t{1} << level;
    return root_from_leaf_hashes(leaves.subspan(index * width, width));
  };
}
}  // namespace

Result<std::vector<Hash>> inclusion_proof(std::span<const Hash> leaves, std::uint64_t index, std::uint64_t size) {
  if (size > leaves.size())
    return fail(ErrorCategory::out_of_range, fmt::format("tree size {} exceeds {} leaves", size, leaves.size()));
  if (index >= size)
    return fail(ErrorCategory::out_of_range, fmt::format("index {} is not below tree size {}", index, size));
  detail::TreeWalker walker(memory_nodes(leaves), local_hasher());
  return walker.inclusion(index, size);
}

Result<std::vector<Hash>> consistency_proof(std::span<const Hash> leaves, std::uint64_t size1, std::uint64_t size2) {
  if (size2 > leaves.size())
    return fail(ErrorCategory::out_of_range, fmt::format("tree size {} exceeds {} leaves", size2, leaves.size()));
  if (size1 > size2)
    return fail(ErrorCategory::out_of_range, fmt::format("size1 {} is larger than size2 {}", size1, size2));
  if (size1 == 0 || size1 == size2) return std::vector<Hash>{};
  detail::TreeWalker walker(memory_nodes(leaves), local_hasher());
  return walker.consistency(size1, size2);
}

Result<Hash> root_from_inclusion_proof(const Hash& leaf, std::uint64_t index, std::uint64_t size,
                                       std::span<const Hash> proof) {
  if (index >= size)
    return fail(ErrorCategory::invalid_proof, fmt::format("index {} is not below tree size {}", index, size));
  Hasher& h = local_hasher();
  std::uint64_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return fail(ErrorCategory::invalid_proof, "proof is longer than the tree is deep");
    if ((fn & 1) != 0 || fn == sn) {
      r = h.node(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = h.node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return fail(ErrorCategory::invalid_proof, "proof is shorter than the tree is deep");
  return r;
}

Result<void> verify_inclusion(const Hash& leaf, std::uint64_t index, std::uint64_t size,
                              std::span<const Hash> proof, const Hash& root) {
  auto r = root_from_inclusion_proof(leaf, index, size, proof);
  if (!r) return std::unexpected(std::move(r.error()));
  if (*r != root)
    return fail(ErrorCategory::invalid_proof, "proof does not lead to the given root");
  return {};
}

Result<void> verify_consistency(std::uint64_t size1, std::uint64_t size2, std::span<const Hash> proof,
                                const Hash& root1, const Hash& root2) {
  if (size1 > size2)
    return fail(ErrorCategory::invalid_proof, fmt::format("size1 {} is larger than size2 {}", size1, size2));
  if (size1 == size2) {
    if (!proof.empty()) return fail(ErrorCategory::invalid_proof, "equal sizes need an empty proof");
    if (root1 != root2) return fail(ErrorCategory::invalid_proof, "equal sizes but different roots");
    return {};
  }
  if (size1 == 0) {
    if (!proof.empty()) return fail(ErrorCategory::invalid_proof, "size1 0 needs an empty proof");
    if (root1 != empty_tree_hash())
      return fail(ErrorCategory::invalid_proof, "root1 of an empty tree must be SHA-256(\"\")");
    return {};
  }
  if (proof.empty()) return fail(ErrorCategory::invalid_proof, "empty consistency proof");

  Hasher& h = local_hasher();
  std::size_t next = 0;
  Hash start;
  if (std::has_single_bit(size1)) {
    start = root1;  // step 2: prepend first_hash
  } else {
    start = proof[0];
    next = 1;
  }
  std::uint64_t fn = size1 - 1, sn = size2 - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = start, sr = start;
  for (; next < proof.size(); ++next) {
    const Hash& c = proof[next];
    if (sn == 0) return fail(ErrorCategory::invalid_proof, "consistency proof is too long");
    if ((fn & 1) != 0 || fn == sn) {
      fr = h.node(c, fr);
      sr = h.node(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = h.node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return fail(ErrorCategory::invalid_proof, "consistency proof is too short");
  if (fr != root1) return fail(ErrorCategory::invalid_proof, "proof does not lead to root1");
  if (sr != root2) return fail(ErrorCategory::invalid_proof, "proof does not lead to root2");
  return {};
}

std::string to_hex(ByteView bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    s[2 * i] = digits[bytes[i] >> 4];
    s[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return s;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Result<std::vector<std::uint8_t>> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0)
    return fail(ErrorCategory::invalid_argument, fmt::format("hex has an odd number of digits ({})", hex.size()));
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return fail(ErrorCategory::invalid_argument, fmt::format("not a hex digit at position {}", hi < 0 ? 2 * i : 2 * i + 1));
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

Result<Hash> hash_from_hex(std::string_view hex) {
  if (hex.size() != 2 * kHashSize)
    return fail(ErrorCategory::invalid_argument,
                fmt::format("a SHA-256 hash is 64 hex digits, got {}", hex.size()));
  auto bytes = from_hex(hex);
  if (!bytes) return std::unexpected(std::move(bytes.error()));
  Hash h{};
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

}  // namespace airssys::ledger
