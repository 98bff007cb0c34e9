// Debug aid: with TESSERA_CRASH_BACKTRACE=1 in the environment, a segmentation fault in the
// extension prints the native stack (module offsets, for addr2line) before Python's handler runs.
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include <nanobind/nanobind.h>

namespace {

struct sigaction previous_segv;

void print_native_stack(int sig, siginfo_t* info, void* context) {
  void* frames[64];
  int n = backtrace(frames, 64);
  const char header[] = "tessera: native stack at the fault:\n";
  (void)!write(2, header, sizeof(header) - 1);
  backtrace_symbols_fd(frames, n, 2);
  sigaction(SIGSEGV, &previous_segv, nullptr);  // then Python's faulthandler (or the default action)
  if (previous_segv.sa_flags & SA_SIGINFO) {
    if (previous_segv.sa_sigaction) previous_segv.sa_sigaction(sig, info, context);
  } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
    previous_segv.sa_handler(sig);
  }
  raise(sig);
}

}  // namespace

void init_crash_backtrace(nanobind::module_&) {
  const char* on = std::getenv("TESSERA_CRASH_BACKTRACE");
  if (!on || on[0] != '1') return;
  struct sigaction sa {};
  sa.sa_sigaction = print_native_stack;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous_segv);
}
