// Trains a tiny Llama-style character model on Tiny Shakespeare: char_lm [path] [steps].
#include <cstdio>
#include <cstdlib>

#include "examples/cpp/char_lm.h"

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "../shared/data/corpora/tinyshakespeare.txt";
  int steps = argc > 2 ? std::atoi(argv[2]) : 300;
  auto r = tessera::examples::train_char_lm(path, steps, 200000, true);
  std::printf("unigram entropy %.3f nats/char, first loss %.3f, validation loss %.3f, %.1f s\n", r.unigram_entropy,
              r.first_loss, r.val_loss, r.seconds);
}
