// The file-level plan of `gemrun quantize`: which type every tensor gets, in which order the
// tensors are written and with which metadata, chosen as llama.cpp's quantizer
// (src/llama-quant.cpp at 3f545becc) chooses them, so that the output file is byte-identical
// to llama-quantize's for the same input and type (without an importance matrix).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "tensor/dtype.h"

namespace gemrun::convert {

// llama_ftype ids (stored as general.file_type).
enum class FileType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 7, kQ5_0 = 8, kQ5_1 = 9,
  kQ4_K_S = 14, kQ4_K_M = 15, kQ5_K_S = 16, kQ5_K_M = 17, kQ6_K = 18, kBF16 = 32,
};

struct FileTypeInfo {
  const char* name;  // as llama-quantize spells it
  FileType id;
  DType default_type;
  const char* description;
};

// The supported types, in the order --help lists them.
const std::vector<FileTypeInfo>& FileTypes();
// Case-insensitive; "Q4_K" and "Q5_K" are aliases of the _M mixes, as in llama-quantize.
// InvalidArgument listing the supported names for anything else.
StatusOr<FileTypeInfo> ParseFileType(std::string_view name);
// A tensor type name for --output-tensor-type / --token-embedding-type (F32, F16, BF16, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K).
StatusOr<DType> ParseTensorType(std::string_view name);

struct QuantizeOptions {
  FileType ftype = FileType::kQ8_0;
  bool allow_requantize = false;  // quantized input tensors may be dequantized and requantized
  bool leave_output = false;      // --leave-output-tensor: output.weight keeps its type
  bool pure = false;              // no per-tensor mixes: every quantizable tensor gets the default
  std::optional<DType> output_tensor_type;
  std::optional<DType> token_embedding_type;
};

struct TensorPlan {
  size_t src = 0;  // index into GgufFile::tensors()
  DType src_type = DType::kF32;
  GgufOutTensor out;  // name, shape, chosen type, offset and size in the output
  std::string note;   // why the type differs from the default ("fallback: ...") or ""
};

struct QuantPlan {
  std::vector<GgufOutKv> kv;         // output metadata, in file order
  std::vector<TensorPlan> tensors;   // in output order
  uint64_t alignment = 32;
  uint64_t data_bytes = 0;           // size of the data section
  int n_fallback = 0;                // tensors whose row size forced a fallback type
};

// Plans the output for `in`. Errors: InvalidArgument when a quantized input tensor would be
// requantized without allow_requantize; Unimplemented for architectures whose llama.cpp rules
// are not reproduced (falcon) or input types that cannot be dequantized; InvalidModel for
// a block layer outside block_count when the file has experts.
StatusOr<QuantPlan> PlanQuantization(const GgufFile& in, const QuantizeOptions& opt);

}  // namespace gemrun::convert
