// End-to-end trainings with tessera::nn and tessera::optimizers (the examples under examples/cpp/).
#include "examples/cpp/char_lm.h"
#include "examples/cpp/mlp_classification.h"
#include "test_utils.h"

using namespace tessera;

TEST(NnTraining, MlpClassificationSGDAndAdam) {
  optimizers::SGD sgd(0.1f, 0.9f);
  double acc_sgd = examples::train_mlp(sgd, 200);
  optimizers::Adam adam(0.01f);
  double acc_adam = examples::train_mlp(adam, 200);
  std::printf("MLP test accuracy: SGD %.3f, Adam %.3f\n", acc_sgd, acc_adam);
  EXPECT_GT(acc_sgd, 0.95);
  EXPECT_GT(acc_adam, 0.95);
}

TEST(NnTraining, CharLlamaOnTinyShakespeare) {
  auto r = examples::train_char_lm(std::string(TESSERA_SHARED_DATA) + "/corpora/tinyshakespeare.txt", 120);
  std::printf("char LM: unigram entropy %.3f, first loss %.3f, validation loss %.3f nats/char (%.1f s)\n",
              r.unigram_entropy, r.first_loss, r.val_loss, r.seconds);
  EXPECT_GT(r.unigram_entropy, 2.5);
  EXPECT_LT(r.val_loss, r.unigram_entropy - 0.4);
}
