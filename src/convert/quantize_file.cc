// The streaming quantizer: plan, header, then tensors in batches of rows over the pool.
#include "convert/quantize_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "quant/quant.h"
#include "quant/quantize_ggml.h"

namespace gemrun::convert {
namespace {

constexpr uint64_t kBatchBytes = uint64_t{16} << 20;  // rows read and written per step

// Same file (also through links) when both resolve to one path; out may not exist yet.
bool SamePath(const std::string& a, const std::string& b) {
  char ra[PATH_MAX], rb[PATH_MAX];
  if (realpath(a.c_str(), ra) == nullptr || realpath(b.c_str(), rb) == nullptr) return false;
  return std::string(ra) == rb;
}

// Drops input pages already converted from this process (they stay in the page cache), so
// resident memory stays near one batch however big the model or its largest tensor is. Only
// whole pages inside [p, p + n) are dropped; a page shared with the next rows stays.
void ReleasePages(const uint8_t* p, uint64_t n) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t begin = (reinterpret_cast<uint64_t>(p) + page - 1) / page * page;
  const uint64_t end = (reinterpret_cast<uint64_t>(p) + n) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

std::string Shape(const int64_t ne[4]) {
  std::string s = "[";
  const uint32_t nd = GgmlNDims(ne);
  for (uint32_t i = 0; i < nd; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Writes n bytes of the mapping in batches, dropping each batch's pages once written.
Status CopyTensor(const uint8_t* src, uint64_t n, bool mapped, AtomicFileWriter* w) {
  for (uint64_t off = 0; off < n; off += kBatchBytes) {
    const uint64_t k = std::min(kBatchBytes, n - off);
    RETURN_IF_ERROR(w->Write(src + off, k));
    if (mapped) ReleasePages(src + off, k);
  }
  return OkStatus();
}

// Converts rows [0, nrows) of one tensor and writes them. src: [nrows][row_in bytes].
Status ConvertTensor(const TensorPlan& tp, const uint8_t* src, bool mapped, ThreadPool& pool,
                     AtomicFileWriter* w) {
  const int64_t ncols = tp.out.ne[0];
  const int64_t nrows = ncols == 0 ? 0 : tp.out.ne[1] * tp.out.ne[2] * tp.out.ne[3];
  const uint64_t row_in = static_cast<uint64_t>(RowBytes(tp.src_type, ncols));
  const uint64_t row_out = static_cast<uint64_t>(RowBytes(tp.out.type, ncols));
  // Rows per batch: at most kBatchBytes of input and of output (at least one row).
  const uint64_t row_max = std::max<uint64_t>({row_in, row_out, 1});
  const int64_t batch_rows = std::max<int64_t>(1, static_cast<int64_t>(kBatchBytes / row_max));
  std::vector<uint8_t> out(static_cast<size_t>(std::min(batch_rows, nrows) * row_out));  // [batch_rows][row_out]
  std::vector<std::vector<float>> scratch(pool.size());  // per worker: one f32 row [ncols]
  const bool f32_in = tp.src_type == DType::kF32;
  for (int64_t r0 = 0; r0 < nrows; r0 += batch_rows) {
    const int64_t n = std::min(batch_rows, nrows - r0);
    pool.ParallelFor(n, [&](int64_t begin, int64_t end, int worker) {
      std::vector<float>& f = scratch[worker];
      if (!f32_in && f.size() < static_cast<size_t>(ncols)) f.resize(ncols);
      for (int64_t r = begin; r < end; ++r) {
        const uint8_t* in_row = src + static_cast<uint64_t>(r0 + r) * row_in;
        const float* x = reinterpret_cast<const float*>(in_row);
        if (!f32_in) {
          DequantizeRowRef(tp.src_type, in_row, f.data(), ncols);
          x = f.data();
        }
        QuantizeRowsGgml(tp.out.type, x, out.data() + static_cast<uint64_t>(r) * row_out, ncols);
      }
    });
    RETURN_IF_ERROR(w->Write(out.data(), static_cast<uint64_t>(n) * row_out));
    if (mapped) ReleasePages(src + static_cast<uint64_t>(r0) * row_in, static_cast<uint64_t>(n) * row_in);
  }
  return OkStatus();
}

}  // namespace

StatusOr<QuantizeStats> QuantizeFile(const std::string& in, const std::string& out,
                                     const QuantizeOptions& opt, ThreadPool& pool,
                                     const std::function<void(std::string_view)>& log) {
  if (SamePath(in, out)) {
    return InvalidArgumentError("output " + out + " is the input file; choose another name");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(in));
  ASSIGN_OR_RETURN(QuantPlan plan, PlanQuantization(*file, opt));
  std::vector<GgufOutTensor> outs;
  for (const TensorPlan& tp : plan.tensors) outs.push_back(tp.out);
  const std::string header = SerializeGgufHeader(plan.kv, outs, plan.alignment);
  const uint64_t total = header.size() + plan.data_bytes;
  ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> w, AtomicFileWriter::Create(out, total));
  RETURN_IF_ERROR(w->Write(header.data(), header.size()));

  QuantizeStats stats;
  stats.n_tensors = static_cast<int>(plan.tensors.size());
  stats.n_fallback = plan.n_fallback;
  const uint64_t data_start = w->written();
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const TensorPlan& tp = plan.tensors[i];
    const GgufTensorInfo& ti = file->tensors()[tp.src];
    const uint8_t* src = file->base() + file->data_offset() + ti.offset;
    RETURN_IF_ERROR(file->CheckFileSize());  // a truncated input would fault on read
    if (log) {
      char line[512];
      std::snprintf(line, sizeof line, "[%4zu/%4zu] %-40s %-18s %-5s -> %-5s%s%s", i + 1,
                    plan.tensors.size(), tp.out.name.c_str(), Shape(tp.out.ne).c_str(),
                    DTypeName(tp.src_type).c_str(), DTypeName(tp.out.type).c_str(),
                    tp.note.empty() ? "" : "  ", tp.note.c_str());
      log(line);
    }
    GEMRUN_CHECK(w->written() == data_start + tp.out.offset);
    if (tp.src_type == tp.out.type) {
      RETURN_IF_ERROR(CopyTensor(src, ti.nbytes, file->mapped(), w.get()));
    } else {
      RETURN_IF_ERROR(ConvertTensor(tp, src, file->mapped(), pool, w.get()));
      ++stats.n_quantized;
    }
    RETURN_IF_ERROR(w->WriteZeros(PadTo(tp.out.nbytes, plan.alignment) - tp.out.nbytes));
    stats.in_bytes += ti.nbytes;
  }
  stats.out_bytes = w->written();
  RETURN_IF_ERROR(w->Commit());
  return stats;
}

}  // namespace gemrun::convert
