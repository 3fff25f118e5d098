// airssys::ledger_osl from an install: the osl audit sink of docs/ledger.md
// (make_osl_sink({.dir}) added to SystemOptions::audit.sinks); one refused
// operation leaves one record, and the ledger verifies intact with it. Its
// osl types are in its API, so its link must bring airssys-osl too.
#include <airssys/ledger/osl_sink.hpp>
#include <airssys/ledger/verify.hpp>
#include <airssys/osl/system.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace osl = airssys::osl;
namespace ledger = airssys::ledger;

int main() {
  std::string dir_template = (std::filesystem::temp_directory_path() / "airssys-consumer-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) return 1;
  const std::filesystem::path dir = dir_template;
  int rc = 1;
  {
    auto sink = ledger::make_osl_sink({.dir = dir / "audit"});
    if (!sink) {
      std::fprintf(stderr, "ledger_osl: %s\n", sink.error().to_string().c_str());
    } else {
      bool denied = false;
      {
        osl::SystemOptions options;  // the empty policy: everything is refused
        options.audit.sinks.push_back(std::move(*sink));
        osl::System system(std::move(options));
        auto read = system.run("app", osl::fs::Read{.path = "/etc/hostname"});
        denied = !read && read.error().category == osl::ErrorCategory::denied;
      }  // the System drains its queue into the sink, then lets it go
      auto report = ledger::verify(dir / "audit");
      if (!denied) {
        std::fprintf(stderr, "ledger_osl: the read was not denied\n");
      } else if (!report) {
        std::fprintf(stderr, "ledger_osl: %s\n", report.error().to_string().c_str());
      } else if (!report->intact || report->size != 1) {
        std::fprintf(stderr, "ledger_osl: intact %d, %llu entries (want 1): %s\n", report->intact ? 1 : 0,
                     static_cast<unsigned long long>(report->size), report->problem.c_str());
      } else {
        std::puts("ledger_osl ok");
        rc = 0;
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
