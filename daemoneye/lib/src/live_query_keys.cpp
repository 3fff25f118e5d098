// Ed25519 key files for live queries (live_query_keys.hpp): the file checks,
// PEM parsing through OpenSSL 3, fingerprints, sign and verify.

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/daemoneye/live_query_keys.hpp>
#include <airssys/daemoneye/path_trust.hpp>
#include <airssys/osl/unique_fd.hpp>
#include <array>
#include <tuple>
#include <utility>
#include <cerrno>

namespace airssys::daemoneye {

void detail::PkeyDeleter::operator()(evp_pkey_st* k) const noexcept { EVP_PKEY_free(k); }

namespace {

constexpr std::size_t kMaxKeyFile = 64 * 1024;

struct BioDeleter {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

enum class KeyKind : std::uint8_t { private_key, public_key };

Result<void> check_mode(const struct stat& st, KeyKind kind, const std::filesystem::path& file) {
  if (kind == KeyKind::private_key) {
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      return fail(ErrorCategory::denied,
                  fmt::format("refusing private key {}: its mode {:04o} gives {} access; only its owner may read it "
                              "(chmod 600)",
                              file.string(), st.st_mode & 07777, (st.st_mode & S_IRWXO) != 0 ? "everyone" : "its group"));
    }
    return {};
  }
  return check_owner_and_mode(st, "trusted key " + file.string());
}

Result<std::string> read_key_file(const std::filesystem::path& file, KeyKind kind) {
  osl::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    if (errno == ELOOP)
      return fail(ErrorCategory::denied, fmt::format("{}: it is a symbolic link (not followed)", file.string()));
    return fail_errno(errno, file.string());
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno(errno, file.string());
  if (!S_ISREG(st.st_mode)) return fail(ErrorCategory::invalid_input, fmt::format("{}: not a regular file", file.string()));
  if (auto r = check_mode(st, kind, file); !r) return std::unexpected(r.error());
  std::string content;
  std::array<char, 4096> buf{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(errno, file.string());
    if (n == 0) break;
    content.append(buf.data(), static_cast<std::size_t>(n));
    if (content.size() > kMaxKeyFile)
      return fail(ErrorCategory::invalid_input, fmt::format("{}: larger than 64 KiB, not a key file", file.string()));
  }
  return content;
}

// "sha256:" + hex SHA-256 of the raw 32-byte public key.
Result<std::string> fingerprint_of(EVP_PKEY* key) {
  std::array<unsigned char, 32> raw{};
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &len) != 1 || len != raw.size())
    return fail(ErrorCategory::internal, "cannot read the Ed25519 public key's bytes");
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int dlen = 0;
  if (EVP_Digest(raw.data(), len, digest.data(), &dlen, EVP_sha256(), nullptr) != 1)
    return fail(ErrorCategory::internal, "SHA-256 failed");
  return "sha256:" + to_hex({reinterpret_cast<const char*>(digest.data()), dlen});
}

Result<std::shared_ptr<evp_pkey_st>> parse_pem(std::string_view pem, std::string_view source, KeyKind kind) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(ErrorCategory::resource_exhausted, "out of memory");
  EVP_PKEY* raw = kind == KeyKind::private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                                               : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  std::shared_ptr<evp_pkey_st> key(raw, detail::PkeyDeleter{});
  const char* what = kind == KeyKind::private_key ? "an Ed25519 private key (PEM, from openssl genpkey -algorithm ed25519)"
                                                  : "an Ed25519 public key (PEM, from openssl pkey -pubout)";
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
    return fail(ErrorCategory::invalid_input, fmt::format("{}: not {}", source, what));
  return key;
}

// The key and its fingerprint.
Result<std::pair<std::shared_ptr<evp_pkey_st>, std::string>> parse_key(std::string_view pem, std::string_view source,
                                                                        KeyKind kind) {
  auto key = parse_pem(pem, source, kind);
  if (!key) return std::unexpected(key.error());
  auto fp = fingerprint_of(key->get());
  if (!fp) return std::unexpected(fp.error());
  return std::pair{std::move(*key), std::move(*fp)};
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += kDigits[u >> 4];
    out += kDigits[u & 0xf];
  }
  return out;
}

Result<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return fail(ErrorCategory::invalid_input, "odd number of hex digits");
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // uppercase too: one spelling per value, so a signature has one text
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return fail(ErrorCategory::invalid_input, "not lowercase hex");
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

Result<Ed25519PublicKey> Ed25519PublicKey::from_pem(std::string_view pem, std::string_view source) {
  auto parsed = parse_key(pem, source, KeyKind::public_key);
  if (!parsed) return std::unexpected(parsed.error());
  Ed25519PublicKey k;
  std::tie(k.key_, k.fingerprint_) = std::move(*parsed);
  return k;
}

Result<Ed25519PublicKey> Ed25519PublicKey::load(const std::filesystem::path& file) {
  auto pem = read_key_file(file, KeyKind::public_key);
  if (!pem) return std::unexpected(pem.error());
  return from_pem(*pem, file.string());
}

bool Ed25519PublicKey::verify(std::string_view message, std::string_view signature) const {
  if (!key_ || signature.size() != 64) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::from_pem(std::string_view pem, std::string_view source) {
  auto parsed = parse_key(pem, source, KeyKind::private_key);
  if (!parsed) return std::unexpected(parsed.error());
  Ed25519PrivateKey k;
  std::tie(k.key_, k.fingerprint_) = std::move(*parsed);
  return k;
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::load(const std::filesystem::path& file) {
  auto pem = read_key_file(file, KeyKind::private_key);
  if (!pem) return std::unexpected(pem.error());
  return from_pem(*pem, file.string());
}

Result<std::string> Ed25519PrivateKey::sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  std::array<unsigned char, 64> sig{};
  std::size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1)
    return fail(ErrorCategory::internal, "Ed25519 signing failed");
  return std::string(reinterpret_cast<const char*>(sig.data()), len);
}

std::string Ed25519PrivateKey::public_pem() const {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return {};
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace airssys::daemoneye
