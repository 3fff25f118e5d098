// tw-payload: the program inside the container image of watchdog.container.
// Built static (no sanitizers) so the image is a rootfs holding only this
// file. Its arguments are steps, run in order:
//   print TEXT   TEXT and a newline to stdout
//   eprint TEXT  TEXT and a newline to stderr
//   env NAME     the value of $NAME (or "<unset>") to stdout
//   sleep SECS   sleep; as PID 1 of a container SIGTERM is ignored, so a
//                stop has to wait for its grace period and SIGKILL
//   exit CODE    exit with CODE
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* step = argv[i];
    const char* arg = argv[i + 1];
    if (std::strcmp(step, "print") == 0) {
      std::printf("%s\n", arg);
    } else if (std::strcmp(step, "eprint") == 0) {
      std::fprintf(stderr, "%s\n", arg);
    } else if (std::strcmp(step, "env") == 0) {
      const char* v = std::getenv(arg);
      std::printf("%s\n", v != nullptr ? v : "<unset>");
    } else if (std::strcmp(step, "sleep") == 0) {
      std::fflush(nullptr);
      for (long left = std::atol(arg); left > 0; --left) ::sleep(1);
    } else if (std::strcmp(step, "exit") == 0) {
      std::fflush(nullptr);
      return std::atoi(arg);
    } else {
      std::fprintf(stderr, "tw-payload: unknown step '%s'\n", step);
      return 2;
    }
    std::fflush(nullptr);
  }
  return 0;
}
