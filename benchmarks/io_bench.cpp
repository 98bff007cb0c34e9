// io benchmark: opening a large safetensors file (lazy mmap) and dequantizing Q4_0 / Q4_K tensors.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "tessera/backend/cpu/threading.h"
#include "tessera/io.h"
#include "tessera/io/ggml_quants.h"
#include "tessera/ops.h"
#include "tessera/random.h"

using namespace tessera;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }

// Asks the kernel to forget the file's cached pages, so the next read comes from the disk.
static void drop_page_cache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// Reads the whole file with read() in 8 MiB chunks; returns the byte count.
static double read_file_sequentially(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return 0;
  std::vector<char> buf(8 << 20);
  double total = 0;
  for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) total += n;
  ::close(fd);
  return total;
}

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "/tmp/tessera_io_bench.safetensors";
  int n_tensors = argc > 2 ? std::atoi(argv[2]) : 24;  // 64 MiB each
  if (!std::filesystem::exists(path)) {
    array w = astype(random::uniform(0.0f, 1.0f, {4096, 4096}), float32);
    w.eval();
    ArrayMap m;
    for (int i = 0; i < n_tensors; ++i) m.emplace("layer." + std::to_string(i) + ".weight", w);
    auto t = clk::now();
    save_safetensors(path, m);
    std::printf("wrote %s: %.2f GB in %.2f s\n", path.c_str(), std::filesystem::file_size(path) / 1e9, secs(t));
  }
  for (int rep = 0; rep < 3; ++rep) {
    auto t = clk::now();
    auto [arrays, meta] = load_safetensors(path);
    std::printf("open %zu tensors (%.2f GB): %.3f ms\n", arrays.size(), std::filesystem::file_size(path) / 1e9, secs(t) * 1e3);
  }
  // Reading: every tensor summed (all bytes touched through the mmap) vs a plain sequential read()
  // of the same file, each with the file's pages dropped from the page cache first (cold) and warm.
  const double gb = std::filesystem::file_size(path) / 1e9;
  for (bool cold : {true, false}) {
    if (cold) drop_page_cache(path);
    auto t = clk::now();
    double total = read_file_sequentially(path);
    double raw = secs(t);
    if (cold) drop_page_cache(path);
    t = clk::now();
    auto [arrays, meta] = load_safetensors(path);
    double checksum = 0;
    for (auto& [name, a] : arrays) checksum += sum(a).item<float>();
    double ours = secs(t);
    std::printf("%s read %.2f GB: plain read() %.3f s = %.2f GB/s; load_safetensors + sum of every tensor "
                "%.3f s = %.2f GB/s (ratio %.2f; bytes %.0f, checksum %.3g)\n",
                cold ? "cold" : "warm", gb, raw, gb / raw, ours, gb / ours, raw / ours, total, checksum);
  }
  std::printf("threads: %d\n", cpu::pool_size());
  array x = random::uniform(-1.0f, 1.0f, {4096, 4096});
  x.eval();
  for (GGMLType type : {GGMLType::Q4_0, GGMLType::Q4_K, GGMLType::Q8_0, GGMLType::Q6_K}) {
    GGUFTensor q = gguf_quantize(x, type);
    double best = 1e9, best_cpu = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
      auto t = clk::now();
      std::clock_t c = std::clock();
      array y = gguf_to_array(q);
      best = std::min(best, secs(t));
      best_cpu = std::min(best_cpu, double(std::clock() - c) / CLOCKS_PER_SEC);
    }
    // Kernel only: into a preallocated (already faulted-in) buffer, one thread.
    std::vector<float> dst(4096 * 4096);
    int threads = cpu::pool_size();
    cpu::set_pool_size(1);
    double kbest = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
      std::clock_t c = std::clock();
      io::dequantize_blocks(type, q.data.data<uint8_t>(), dst.size(), dst.data());
      kbest = std::min(kbest, double(std::clock() - c) / CLOCKS_PER_SEC);
    }
    cpu::set_pool_size(threads);
    std::printf("  kernel only, 1 thread, CPU time: %.2f ms = %.2f GB/s written\n", kbest * 1e3, 4096.0 * 4096 * 4 / 1e9 / kbest);
    double out_gb = 4096.0 * 4096 * 4 / 1e9, in_gb = q.data.nbytes() / 1e9;
    std::printf("dequantize %s 4096x4096 -> f32: %.2f ms wall, %.2f GB/s written (%.2f GB/s of blocks read); "
                "per CPU-second: %.2f GB/s written\n",
                ggml_traits(type).name, best * 1e3, out_gb / best, in_gb / best, out_gb / best_cpu);
  }
  return 0;
}
