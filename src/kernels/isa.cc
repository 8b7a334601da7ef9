// CPU feature detection and the per-ISA kernel tables, each entry chosen by what it needs.
#include "kernels/isa.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ref/ref_kernels.h"

namespace gemrun::kernels {
namespace {

// Same order as the CpuFeature bits.
constexpr bool CpuFeatures::*kFields[kCpuFeatureCount] = {
    &CpuFeatures::avx2,     &CpuFeatures::fma,        &CpuFeatures::f16c,       &CpuFeatures::avx_vnni,
    &CpuFeatures::avx512f,  &CpuFeatures::avx512bw,   &CpuFeatures::avx512vl,   &CpuFeatures::avx512dq,
    &CpuFeatures::avx512vnni, &CpuFeatures::avx512bf16, &CpuFeatures::avx512vbmi, &CpuFeatures::os_ymm,
    &CpuFeatures::os_zmm,   &CpuFeatures::neon,       &CpuFeatures::dotprod,    &CpuFeatures::i8mm};
constexpr const char* kNames[kCpuFeatureCount] = {
    "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512dq",
    "avx512vnni", "avx512bf16", "avx512vbmi", "os_ymm", "os_zmm", "neon", "dotprod", "i8mm"};

#if defined(__aarch64__)
// The OS's view of the ARM extensions: Linux's auxiliary vector (no /proc parsing) or the
// macOS sysctl names. ASIMD is architectural on AArch64; the bits are still read on Linux.
void DetectArm(CpuFeatures& f) {
#if defined(__linux__)
  constexpr unsigned long kHwcapAsimd = 1ul << 1, kHwcapAsimdDp = 1ul << 20;  // asm/hwcap.h
  constexpr unsigned long kHwcap2I8mm = 1ul << 13;
  const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  f.neon = hw & kHwcapAsimd;
  f.dotprod = f.neon && (hw & kHwcapAsimdDp);
  f.i8mm = f.neon && (hw2 & kHwcap2I8mm);
#elif defined(__APPLE__)
  auto has = [](const char* name) {
    int v = 0;
    size_t len = sizeof(v);
    return sysctlbyname(name, &v, &len, nullptr, 0) == 0 && v != 0;
  };
  f.neon = true;
  f.dotprod = has("hw.optional.arm.FEAT_DotProd");
  f.i8mm = has("hw.optional.arm.FEAT_I8MM");
#else
  f.neon = true;  // other OSes: the architectural baseline only
#endif
}
#endif

CpuFeatures Detect() {
  CpuFeatures f;
#if defined(__aarch64__)
  DetectArm(f);
#endif
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(1, 0, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  if (osxsave && avx) {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    f.os_ymm = (lo & 0x6) == 0x6;            // SSE + AVX state
    f.os_zmm = f.os_ymm && (lo & 0xE0) == 0xE0;  // opmask + ZMM_Hi256 + Hi16_ZMM state
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vbmi = c & (1u << 1);
    f.avx512vnni = c & (1u << 11);
    const unsigned max_sub = a;
    if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) {
      f.avx_vnni = a & (1u << 4);
      f.avx512bf16 = a & (1u << 5);
    }
  }
#endif
  return f;
}

// The raw tables the SIMD files provide (entries they do not implement are nullptr).
const IsaKernels& Partial(Isa isa) {
  static IsaKernels avx2, avx2vnni, avx512;
  static IsaKernels neon, neondot, neoni8mm;
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(__x86_64__)  // only this architecture's kernel files are linked in
    if (CpuKernelsCompiled(Isa::kAvx2)) avx2 = Avx2Kernels();
    if (CpuKernelsCompiled(Isa::kAvx2Vnni)) avx2vnni = Avx2VnniKernels();
    if (CpuKernelsCompiled(Isa::kAvx512)) avx512 = Avx512Kernels();
#elif defined(__aarch64__)
    if (CpuKernelsCompiled(Isa::kNeon)) neon = NeonKernels();
    if (CpuKernelsCompiled(Isa::kNeonDot)) neondot = NeonDotKernels();
    if (CpuKernelsCompiled(Isa::kNeonI8mm)) neoni8mm = NeonI8mmKernels();
#endif
  });
  switch (isa) {
    case Isa::kAvx2: return avx2;
    case Isa::kAvx2Vnni: return avx2vnni;
    case Isa::kAvx512: return avx512;
    case Isa::kNeon: return neon;
    case Isa::kNeonDot: return neondot;
    case Isa::kNeonI8mm: return neoni8mm;
    case Isa::kScalar: break;
  }
  return RefKernels();
}

// The levels from lowest to highest (the enum's values are not in rank order: kAvx2Vnni was
// appended so the older values keep theirs).
constexpr const Isa (&kRanked)[kIsaCount] = kIsasByRank;
int Rank(Isa isa) {
  for (int i = 0; i < kIsaCount; ++i)
    if (kRanked[i] == isa) return i;
  return 0;
}

constexpr bool IsArmLevel(Isa isa) { return isa == Isa::kNeon || isa == Isa::kNeonDot || isa == Isa::kNeonI8mm; }

template <class Fn>
void Take(Fn& dst, FeatureSet& dst_needs, Fn src, FeatureSet src_needs, FeatureSet have) {
  if (src && (src_needs & ~have) == 0) {
    dst = src;
    dst_needs = src_needs;
  }
}

}  // namespace

const char* CpuFeatureName(CpuFeature f) {
  for (int i = 0; i < kCpuFeatureCount; ++i)
    if (f == (1u << i)) return kNames[i];
  return "?";
}

FeatureSet CpuFeatures::Set() const {
  FeatureSet s = 0;
  for (int i = 0; i < kCpuFeatureCount; ++i)
    if (this->*kFields[i]) s |= 1u << i;
  return s;
}

CpuFeatures CpuFeatures::FromSet(FeatureSet s) {
  CpuFeatures f;
  for (int i = 0; i < kCpuFeatureCount; ++i) f.*kFields[i] = (s >> i) & 1u;
  return f;
}

const CpuFeatures& DetectCpuFeatures() {
  static const CpuFeatures f = Detect();
  return f;
}

FeatureSet IsaBaseline(Isa isa) {
  constexpr FeatureSet kAvx2 = kFeatAvx2 | kFeatFma | kFeatF16c | kFeatOsYmm;
  switch (isa) {
    case Isa::kScalar: return 0;
    case Isa::kAvx2: return kAvx2;
    case Isa::kAvx2Vnni: return kAvx2 | kFeatAvxVnni;
    case Isa::kAvx512:
      return kAvx2 | kFeatAvx512F | kFeatAvx512Bw | kFeatAvx512Vl | kFeatAvx512Dq | kFeatOsZmm;
    case Isa::kNeon: return kFeatNeon;
    case Isa::kNeonDot: return kFeatNeon | kFeatDotProd;
    case Isa::kNeonI8mm: return kFeatNeon | kFeatDotProd | kFeatI8mm;
  }
  return 0;
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx2Vnni: return "avx2vnni";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
    case Isa::kNeonDot: return "neondot";
    case Isa::kNeonI8mm: return "neoni8mm";
  }
  return "?";
}

IsaKernels BuildKernels(Isa isa, const CpuFeatures& cpu) {
  const FeatureSet have = cpu.Set();
  IsaKernels out = RefKernels();
  out.isa = isa;
  out.name = IsaName(isa);
  // Each slot: the highest layer whose code this CPU can run, up to `isa`.
  for (Isa layer : kRanked) {
    if (layer == Isa::kScalar || Rank(layer) > Rank(isa) || !CpuKernelsCompiled(layer)) continue;
    if (IsArmLevel(layer) != IsArmLevel(isa)) continue;  // an ARM level never takes x86 layers
    const IsaKernels& p = Partial(layer);
    IsaKernels::Needs& n = out.needs;
    for (uint32_t i = 0; i < kDTypeCount; ++i) {
      Take(out.quantize_act[i], n.quantize_act[i], p.quantize_act[i], p.needs.quantize_act[i], have);
      Take(out.dot_tile[i], n.dot_tile[i], p.dot_tile[i], p.needs.dot_tile[i], have);
      Take(out.block_sums[i], n.block_sums[i], p.block_sums[i], p.needs.block_sums[i], have);
    }
    Take(out.gelu_mul, n.gelu_mul, p.gelu_mul, p.needs.gelu_mul, have);
  }
  // kRows16 tiles never come from a lower set: weights are packed only for the active set.
  if (isa != Isa::kScalar) {
    const IsaKernels& p = Partial(isa);
    out.rows16_desc = CpuKernelsCompiled(isa) ? p.rows16_desc : nullptr;
    for (uint32_t i = 0; i < kDTypeCount; ++i) {
      out.rows16_tile[i] = nullptr;
      out.needs.rows16_tile[i] = 0;
      if (CpuKernelsCompiled(isa))
        Take(out.rows16_tile[i], out.needs.rows16_tile[i], p.rows16_tile[i], p.needs.rows16_tile[i], have);
    }
  }
  return out;
}

bool IsaAvailable(Isa isa) {
  const FeatureSet base = IsaBaseline(isa);
  return (DetectCpuFeatures().Set() & base) == base && (isa == Isa::kScalar || CpuKernelsCompiled(isa));
}

const IsaKernels& KernelsFor(Isa isa) {
  static IsaKernels tables[kIsaCount];
  static std::once_flag once;
  std::call_once(once, [] {
    for (Isa i : kRanked) tables[static_cast<int>(i)] = BuildKernels(i, DetectCpuFeatures());
  });
  return tables[static_cast<int>(isa)];
}

const IsaKernels& ActiveKernels() {
  static const IsaKernels* active = [] {
    Isa best = Isa::kScalar;
    for (Isa i : kRanked)
      if (IsaAvailable(i)) best = i;
    if (const char* env = std::getenv("GEMRUN_ISA"); env && *env) {
      Isa want = best;
      bool known = false;
      for (Isa i : kRanked)
        if (!std::strcmp(env, IsaName(i))) want = i, known = true;
      if (!known)
        std::fprintf(stderr, "gemrun: ignoring unknown GEMRUN_ISA=%s (scalar|avx2|avx2vnni|avx512|neon|neondot|neoni8mm)\n", env);
      if (!IsaAvailable(want))
        std::fprintf(stderr, "gemrun: GEMRUN_ISA=%s not available on this CPU; using %s\n", env, IsaName(best));
      else
        best = want;
    }
    return &KernelsFor(best);
  }();
  return *active;
}

}  // namespace gemrun::kernels
