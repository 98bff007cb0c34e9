// Debug aid for tessera_gpu_tests (linked with exported symbols): a segmentation fault prints the native
// stack of the faulting thread before the default action, so a crash on the GPU machine names its frames.
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace {

void print_stack_and_die(int sig) {
  void* frames[64];
  int n = backtrace(frames, 64);
  const char header[] = "tessera_gpu_tests: native stack at the fault:\n";
  (void)!write(2, header, sizeof(header) - 1);
  backtrace_symbols_fd(frames, n, 2);
  signal(sig, SIG_DFL);
  raise(sig);
}

const bool installed = [] {
  signal(SIGSEGV, print_stack_and_die);
  signal(SIGBUS, print_stack_and_die);
  return true;
}();

}  // namespace

TEST(GpuCrashStack, HandlerInstalled) {
  struct sigaction sa {};
  sigaction(SIGSEGV, nullptr, &sa);
  EXPECT_TRUE(installed);
  EXPECT_EQ(sa.sa_handler, &print_stack_and_die);
}
