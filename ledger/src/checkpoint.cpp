#include <airssys/ledger/checkpoint.hpp>
#include <airssys/ledger/ledger.hpp>

#include "fd.hpp"
#include "format.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace airssys::ledger {

using namespace detail;

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string_view file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a file";
}

// Key files only: a FIFO, device or directory is named as such (pread on it
// would say "Illegal seek", "too large" or "Is a directory").
Result<std::string> read_text_file(const std::filesystem::path& file, std::size_t limit = 1 << 20) {
  // O_NOCTTY: a terminal named as a key file must not become our controlling tty.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return std::unexpected(Error::from_errno(errno, "open " + file.string()));
  UniqueFd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(Error::from_errno(errno, "fstat " + file.string()));
  if (!S_ISREG(st.st_mode))
    return fail(ErrorCategory::invalid_argument,
                fmt::format("{} is {}, not a regular file", file.string(), file_kind(st.st_mode)));
  std::string out(limit + 1, '\0');
  auto n = pread_some(fd, out.data(), out.size(), 0, file.string());
  if (!n) return std::unexpected(n.error());
  if (*n > limit) return fail(ErrorCategory::invalid_argument, file.string() + " is too large");
  out.resize(*n);
  return out;
}

// Where the next checkpoint line goes: the end of the log, after cutting off
// a last line without its newline (an append a crash cut short; never
// acknowledged, see write_checkpoint). The caller holds the lock.
Result<std::uint64_t> intact_end(int fd, const std::string& path) {
  auto size = file_size(fd, path);
  if (!size || *size == 0) return size;
  // Checkpoint lines are a few hundred bytes: the last newline is near.
  std::uint64_t end = *size;
  std::string tail;
  while (end > 0) {
    const std::uint64_t from = end > 4096 ? end - 4096 : 0;
    tail.assign(end - from, '\0');
    if (auto r = pread_exact(fd, tail.data(), tail.size(), from, path); !r) return std::unexpected(r.error());
    if (const auto nl = tail.rfind('\n'); nl != std::string::npos) {
      end = from + nl + 1;
      break;
    }
    end = from;
  }
  if (end != *size) {
    if (auto r = truncate_to(fd, end, path); !r) return std::unexpected(r.error());
  }
  return end;
}

}  // namespace

struct PublicKey::Key {
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey;
};

namespace {


Result<Hash> spki_key_id(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(pkey, &der);
  if (len <= 0) return fail(ErrorCategory::crypto, "cannot encode the public key");
  const Hash id = Hasher().digest(ByteView(der, static_cast<std::size_t>(len)));
  OPENSSL_free(der);
  return id;
}

Result<void> require_ed25519(EVP_PKEY* pkey, std::string_view what) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519)
    return fail(ErrorCategory::crypto, fmt::format("{} is not an Ed25519 key", what));
  return {};
}

}  // namespace

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(ErrorCategory::crypto, "out of memory");
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    // A private key file also yields its public half.
    BioPtr again(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    raw = PEM_read_bio_PrivateKey(again.get(), nullptr, nullptr, nullptr);
  }
  if (raw == nullptr) return fail(ErrorCategory::crypto, "not a PEM public or private key");
  auto key = std::make_shared<Key>();
  key->pkey.reset(raw);
  if (auto r = require_ed25519(raw, "key"); !r) return std::unexpected(r.error());
  PublicKey pk;
  pk.key_ = std::move(key);
  auto id = spki_key_id(raw);
  if (!id) return std::unexpected(id.error());
  pk.key_id_ = *id;
  return pk;
}

Result<PublicKey> PublicKey::load(const std::filesystem::path& file) {
  auto text = read_text_file(file);
  if (!text) return std::unexpected(text.error());
  auto pk = from_pem(*text);
  if (!pk) pk.error().message = file.string() + ": " + pk.error().message;
  return pk;
}

std::string PublicKey::pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_->pkey.get()) != 1) return {};
  return bio_text(bio.get());
}

Result<void> PublicKey::verify(ByteView message, const Signature& signature) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1)
    return fail(ErrorCategory::crypto, "cannot initialise Ed25519 verification");
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) != 1)
    return fail(ErrorCategory::invalid_proof, "signature does not verify with this public key");
  return {};
}

Result<SigningKey> SigningKey::adopt(std::shared_ptr<PublicKey::Key> key) {
  auto id = spki_key_id(key->pkey.get());
  if (!id) return std::unexpected(id.error());
  SigningKey sk;
  sk.key_ = key;
  sk.public_.key_ = key;
  sk.public_.key_id_ = *id;
  return sk;
}

Result<SigningKey> SigningKey::generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return fail(ErrorCategory::crypto, "Ed25519 key generation failed");
  auto key = std::make_shared<PublicKey::Key>();
  key->pkey.reset(raw);
  return adopt(std::move(key));
}

Result<SigningKey> SigningKey::load(const std::filesystem::path& file) {
  auto text = read_text_file(file);
  if (!text) return std::unexpected(text.error());
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  EVP_PKEY* raw = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (raw == nullptr) return fail(ErrorCategory::crypto, file.string() + " is not a PEM private key");
  auto key = std::make_shared<PublicKey::Key>();
  key->pkey.reset(raw);
  if (auto r = require_ed25519(raw, file.string()); !r) return std::unexpected(r.error());
  return adopt(std::move(key));
}

Result<void> write_new_file(const std::filesystem::path& file, std::string_view contents) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(Error::from_errno(errno, "create " + file.string()));
  UniqueFd owned(fd);
  if (auto r = pwrite_all(fd, contents.data(), contents.size(), 0, file.string()); !r) return r;
  return sync_all(fd, file.string());
}

Result<void> SigningKey::save(const std::filesystem::path& file) const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return fail(ErrorCategory::crypto, "cannot encode the private key");
  std::string pem = bio_text(bio.get());
  auto r = write_new_file(file, pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  return r;
}

Result<Signature> SigningKey::sign(ByteView message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1)
    return fail(ErrorCategory::crypto, "cannot initialise Ed25519 signing");
  Signature sig{};
  std::size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1 || len != sig.size())
    return fail(ErrorCategory::crypto, "Ed25519 signing failed");
  return sig;
}

std::array<std::uint8_t, 50> tree_head_signature_input(const TreeHead& head) {
  std::array<std::uint8_t, 50> b{};
  b[0] = 0;  // Version v1
  b[1] = 1;  // SignatureType tree_hash
  for (int i = 0; i < 8; ++i) {
    b[2 + i] = static_cast<std::uint8_t>(head.timestamp_ms >> (56 - 8 * i));
    b[10 + i] = static_cast<std::uint8_t>(head.tree_size >> (56 - 8 * i));
  }
  std::memcpy(b.data() + 18, head.root.data(), kHashSize);
  return b;
}

Result<SignedTreeHead> sign_tree_head(const TreeHead& head, const SigningKey& key) {
  const auto input = tree_head_signature_input(head);
  auto sig = key.sign(input);
  if (!sig) return std::unexpected(sig.error());
  return SignedTreeHead{head, *sig, key.public_key().key_id()};
}

Result<void> verify_tree_head(const SignedTreeHead& sth, const PublicKey& key) {
  if (sth.key_id != key.key_id())
    return fail(ErrorCategory::invalid_proof,
                fmt::format("signed by key {}, not by this key ({})", to_hex(sth.key_id), to_hex(key.key_id())));
  const auto input = tree_head_signature_input(sth.head);
  return key.verify(input, sth.signature);
}

std::string SignedTreeHead::to_json() const {
  nlohmann::ordered_json j;
  j["tree_size"] = head.tree_size;
  j["timestamp"] = head.timestamp_ms;
  j["sha256_root_hash"] = to_hex(head.root);
  j["tree_head_signature"] = to_hex(ByteView(signature));
  j["key_id"] = to_hex(key_id);
  j["signature_algorithm"] = "ed25519";
  return j.dump();
}

Result<SignedTreeHead> SignedTreeHead::from_json(std::string_view text) {
  if (text.size() > kMaxSignedTreeHeadJson)
    return fail(ErrorCategory::invalid_argument,
                fmt::format("signed tree head is {} bytes; the limit is {}", text.size(), kMaxSignedTreeHeadJson));
  // nlohmann keeps the last of repeated keys; another verifier may keep the
  // first, so one text could mean two tree heads. Refuse repeats at any depth.
  std::vector<std::set<std::string>> keys_at_depth;
  std::string repeated;
  const nlohmann::json::parser_callback_t no_repeats = [&](int depth, nlohmann::json::parse_event_t event,
                                                           nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    const auto d = static_cast<std::size_t>(depth);
    if (event == E::object_start) {
      if (keys_at_depth.size() <= d + 1) keys_at_depth.resize(d + 2);
      keys_at_depth[d + 1].clear();
    } else if (event == E::key && parsed.is_string()) {
      if (keys_at_depth.size() <= d) keys_at_depth.resize(d + 1);
      if (!keys_at_depth[d].insert(parsed.get<std::string>()).second && repeated.empty())
        repeated = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json j = nlohmann::json::parse(text, no_repeats, /*allow_exceptions=*/false);
  if (!repeated.empty())
    return fail(ErrorCategory::invalid_argument, fmt::format("signed tree head: field {} appears more than once", repeated));
  if (j.is_discarded() || !j.is_object()) return fail(ErrorCategory::invalid_argument, "signed tree head is not a JSON object");
  auto get_u64_field = [&](const char* name) -> Result<std::uint64_t> {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_unsigned())
      return fail(ErrorCategory::invalid_argument, fmt::format("signed tree head: {} missing or not an unsigned number", name));
    return it->get<std::uint64_t>();
  };
  auto get_hex = [&](const char* name, std::size_t bytes) -> Result<std::vector<std::uint8_t>> {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string())
      return fail(ErrorCategory::invalid_argument, fmt::format("signed tree head: {} missing", name));
    const auto& text_hex = it->get_ref<const std::string&>();
    // Lowercase only: one spelling per value, so a flipped case bit is a change.
    if (text_hex.find_first_not_of("0123456789abcdef") != std::string::npos)
      return fail(ErrorCategory::invalid_argument, fmt::format("signed tree head: {} is not lowercase hex", name));
    auto b = from_hex(text_hex);
    if (!b || b->size() != bytes)
      return fail(ErrorCategory::invalid_argument, fmt::format("signed tree head: {} is not {} bytes of hex", name, bytes));
    return b;
  };
  // Exactly the six fields: one spelling per signed tree head.
  for (const auto& [k, v] : j.items()) {
    static const std::set<std::string> known = {"tree_size", "timestamp", "sha256_root_hash",
                                                "tree_head_signature", "key_id", "signature_algorithm"};
    if (known.count(k) == 0) return fail(ErrorCategory::invalid_argument, fmt::format("signed tree head: unknown field {}", k));
  }
  if (auto alg = j.find("signature_algorithm"); alg == j.end() || *alg != "ed25519")
    return fail(ErrorCategory::invalid_argument, "signed tree head: signature_algorithm must be \"ed25519\"");
  SignedTreeHead s;
  auto size = get_u64_field("tree_size");
  if (!size) return std::unexpected(size.error());
  auto ts = get_u64_field("timestamp");
  if (!ts) return std::unexpected(ts.error());
  auto root = get_hex("sha256_root_hash", kHashSize);
  if (!root) return std::unexpected(root.error());
  auto sig = get_hex("tree_head_signature", 64);
  if (!sig) return std::unexpected(sig.error());
  auto id = get_hex("key_id", kHashSize);
  if (!id) return std::unexpected(id.error());
  s.head.tree_size = *size;
  s.head.timestamp_ms = *ts;
  std::copy(root->begin(), root->end(), s.head.root.begin());
  std::copy(sig->begin(), sig->end(), s.signature.begin());
  std::copy(id->begin(), id->end(), s.key_id.begin());
  return s;
}

Result<void> attach_signing_key(const std::filesystem::path& dir, const std::filesystem::path& key_file,
                                const SigningKey& key) {
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(key_file, ec);
  if (ec) return std::unexpected(Error::from_errno(ec.value(), "resolve " + key_file.string()));
  if (auto r = write_new_file(dir / kPubkeyFile, key.public_key().pem()); !r) return r;
  return write_new_file(dir / kSigningKeyFile, absolute.string() + "\n");
}

Result<std::filesystem::path> attached_key_file(const std::filesystem::path& dir) {
  auto text = read_text_file(dir / kSigningKeyFile, 4096);
  if (!text) {
    if (text.error().category == ErrorCategory::not_found)
      return fail(ErrorCategory::not_found, fmt::format("{} has no signing key (init --key, or pass --key)", dir.string()));
    return std::unexpected(text.error());
  }
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  return std::filesystem::path(*text);
}

Result<PublicKey> ledger_public_key(const std::filesystem::path& dir) {
  auto text = read_text_file(dir / kPubkeyFile);
  if (!text) return std::unexpected(text.error());
  auto key = PublicKey::from_pem(*text);
  // We wrote this file: anything but the canonical encoding was changed
  // (some changes would still parse to the same key).
  if (!key || key->pem() != *text)
    return fail(ErrorCategory::corrupt, (dir / kPubkeyFile).string() + " was modified (not the key init wrote)");
  return key;
}

Result<SignedTreeHead> write_checkpoint(const Ledger& ledger, const SigningKey& key) {
  TreeHead head;
  head.tree_size = ledger.size();
  auto root = ledger.root(head.tree_size);
  if (!root) return std::unexpected(root.error());
  head.root = *root;
  head.timestamp_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count());
  auto sth = sign_tree_head(head, key);
  if (!sth) return sth;
  auto dfd = open_dir(ledger.dir());
  if (!dfd) return std::unexpected(dfd.error());
  const std::string path = (ledger.dir() / kCheckpointsFile).string();
  auto fd = open_file_at(dfd->get(), kCheckpointsFile, O_RDWR | O_CREAT, path);
  if (!fd) return std::unexpected(fd.error());
  // One checkpointer at a time (other processes too): the line goes at the
  // end we measured, and a failed one is cut off again before anyone else
  // writes after it.
  if (::flock(fd->get(), LOCK_EX) != 0) return std::unexpected(Error::from_errno(errno, "lock " + path));
  auto end = intact_end(fd->get(), path);
  if (!end) return std::unexpected(end.error());
  const std::string line = sth->to_json() + "\n";
  // Through the fd seam (IoHooks): acknowledged only once the whole line is
  // synced; otherwise it is removed, so the log never holds a torn line
  // that a later one would follow.
  auto written = pwrite_all(fd->get(), line.data(), line.size(), *end, path);
  if (written) written = sync_data(fd->get(), path);
  if (!written) {
    (void)truncate_to(fd->get(), *end, path);
    return std::unexpected(written.error());
  }
  return sth;
}

Result<std::vector<SignedTreeHead>> read_checkpoints(const std::filesystem::path& dir) {
  std::vector<SignedTreeHead> out;
  auto dfd = open_dir(dir);
  if (!dfd) return std::unexpected(dfd.error());
  const std::string path = (dir / kCheckpointsFile).string();
  auto fd = open_file_at(dfd->get(), kCheckpointsFile, O_RDONLY, path);
  if (!fd) {
    if (fd.error().category == ErrorCategory::not_found) return out;
    return std::unexpected(fd.error());
  }
  auto len = file_size(fd->get(), path);
  if (!len) return std::unexpected(len.error());
  std::string text(*len, '\0');
  if (auto r = pread_exact(fd->get(), text.data(), text.size(), 0, path); !r) return std::unexpected(r.error());
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    ++line_no;
    // Also a last line: it may be an append a crash cut short (never
    // acknowledged; the next write_checkpoint removes it), but a reader
    // cannot tell that from a changed byte, so it is reported.
    if (nl == std::string::npos)
      return fail(ErrorCategory::corrupt, fmt::format("{}: line {} is incomplete", path, line_no));
    auto sth = SignedTreeHead::from_json(std::string_view(text).substr(pos, nl - pos));
    if (!sth) return fail(ErrorCategory::corrupt, fmt::format("{}: line {}: {}", path, line_no, sth.error().message));
    out.push_back(*sth);
    pos = nl + 1;
  }
  return out;
}

}  // namespace airssys::ledger
