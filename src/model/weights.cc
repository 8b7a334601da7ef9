// WeightBinder implementation.
#include "model/weights.h"

#include <thread>

#include "base/sys_info.h"
#include "quant/quant.h"

namespace gemrun {
namespace {

std::string ShapeStr(const int64_t* ne, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + (ne[i] < 0 ? std::string("*") : std::to_string(ne[i]));
  return s + "]";
}

}  // namespace

Status WeightBinder::Matrix(const std::string& name, int64_t ne0, int64_t ne1, TensorView* out,
                            bool required, int64_t ne2) {
  return Bind(name, ne0, ne1, out, required, ne2, /*pack=*/true);
}

Status WeightBinder::LookupTable(const std::string& name, int64_t ne0, int64_t ne1, TensorView* out) {
  return Bind(name, ne0, ne1, out, /*required=*/true, /*ne2=*/1, /*pack=*/false);
}

Status WeightBinder::Bind(const std::string& name, int64_t ne0, int64_t ne1, TensorView* out, bool required,
                          int64_t ne2, bool pack) {
  const GgufTensorInfo* t = f_.FindTensor(name);
  if (!t) {
    if (!required) return OkStatus();
    return NotFoundError(f_.path() + ": required tensor '" + name + "' is missing");
  }
  const int64_t want[3] = {ne0, ne1, ne2};
  bool ok = t->ne[3] == 1;
  for (int d = 0; d < 3; ++d) ok = ok && (want[d] < 0 || t->ne[d] == want[d]);
  if (!ok)
    return InvalidModelError(f_.path() + ": tensor '" + name + "' has shape " +
                                ShapeStr(t->ne, static_cast<int>(t->n_dims)) + ", expected " +
                                ShapeStr(want, ne2 != 1 ? 3 : ne1 != 1 ? 2 : 1));
  if (!Traits(t->type).weight_ok)
    return UnimplementedError(f_.path() + ": tensor '" + name + "' has type " + DTypeName(t->type) +
                              " (" + std::to_string(static_cast<uint32_t>(t->type)) +
                              "), which gemrun does not support");
  *out = f_.View(*t);
  if (pack && packed_) packed_->Pack(out, DefaultThreadCount(), f_.mapped());
  return OkStatus();
}

Status WeightBinder::Vector(const std::string& name, int64_t n, std::vector<float>* out, bool required) {
  TensorView v;
  RETURN_IF_ERROR(Bind(name, n, 1, &v, required, /*ne2=*/1, /*pack=*/false));
  if (!v.data) return OkStatus();
  out->resize(static_cast<size_t>(n));
  DequantizeRowRef(v.type, v.data, out->data(), n);
  return OkStatus();
}

}  // namespace gemrun
