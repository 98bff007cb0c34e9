// Declares a primitive's eval_gpu override in CUDA builds only (its kernel lives in backend/cuda).
#pragma once

#ifdef TESSERA_CUDA
#define TESSERA_GPU_EVAL \
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
#else
#define TESSERA_GPU_EVAL
#endif
