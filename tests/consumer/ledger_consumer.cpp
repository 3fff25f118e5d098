// airssys::ledger from an install: RFC 6962 hashes through OpenSSL (a
// private dependency of the static library), checked against known values.
#include <airssys/ledger/merkle.hpp>

#include <cstdio>

namespace ledger = airssys::ledger;

int main() {
  // SHA-256("") and SHA-256(0x00): the empty tree and the empty leaf.
  const ledger::Hash& empty = ledger::empty_tree_hash();
  const ledger::Hash leaf = ledger::leaf_hash({});
  if (empty[0] != 0xe3 || empty[31] != 0x55 || leaf[0] != 0x6e || leaf[31] != 0x1d) {
    std::fprintf(stderr, "ledger: wrong hash\n");
    return 1;
  }
  std::puts("ledger ok");
  return 0;
}
