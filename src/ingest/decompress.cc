// Decompression of .gz (zlib), .zst (libzstd) and .xz (liblzma) with a cap on the output: a
// decompression bomb is an error naming the cap, never a silently truncated input.
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>

#include "ingest/ingest.h"

namespace gemrun::ingest {
namespace {

constexpr size_t kOutStep = size_t{1} << 20;

Status OverCap(const std::string& name, uint64_t cap) {
  return InvalidArgumentError(name + ": decompresses to more than " + std::to_string(cap >> 20) +
                              " MiB (the cap on decoded bytes per file; a decompression bomb?); raise --max-bytes "
                              "or decompress it yourself");
}

StatusOr<std::string> Gunzip(std::string_view in, uint64_t cap, const std::string& name) {
  std::string out;
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return InternalError("zlib: inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());  // inputs are capped well below 4 GiB
  for (;;) {
    if (out.size() >= cap) return OverCap(name, cap);
    const size_t old = out.size();
    out.resize(old + kOutStep);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = kOutStep;
    const int r = inflate(&z, Z_NO_FLUSH);
    out.resize(old + kOutStep - z.avail_out);
    if (out.size() > cap) return OverCap(name, cap);
    if (r == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // concatenated gzip members (`cat a.gz b.gz`)
      continue;
    }
    if (r == Z_BUF_ERROR && z.avail_in == 0)
      return DataLossError(name + ": truncated gzip stream (ends before its end marker)");
    if (r != Z_OK && r != Z_BUF_ERROR)
      return DataLossError(name + ": corrupt gzip data (" + std::string(z.msg ? z.msg : "zlib error") + ")");
  }
  return out;
}

StatusOr<std::string> Unzstd(std::string_view in, uint64_t cap, const std::string& name) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return InternalError("zstd: cannot create a context");
  std::string out;
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  for (;;) {
    const size_t old = out.size();
    out.resize(old + kOutStep);
    ZSTD_outBuffer ob{out.data() + old, kOutStep, 0};
    const size_t r = ZSTD_decompressStream(ctx.get(), &ob, &ib);
    out.resize(old + ob.pos);
    if (ZSTD_isError(r)) return DataLossError(name + ": corrupt zstd data (" + ZSTD_getErrorName(r) + ")");
    if (out.size() > cap) return OverCap(name, cap);
    if (r == 0 && ib.pos == ib.size) break;  // last frame complete, input consumed
    if (ib.pos == ib.size && ob.pos < kOutStep)  // nothing left to feed, frame unfinished
      return DataLossError(name + ": truncated zstd stream (ends inside a frame)");
  }
  return out;
}

StatusOr<std::string> Unxz(std::string_view in, uint64_t cap, const std::string& name) {
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) return InternalError("xz: decoder init failed");
  std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> guard(&s, lzma_end);
  s.next_in = reinterpret_cast<const uint8_t*>(in.data());
  s.avail_in = in.size();
  std::string out;
  for (;;) {
    const size_t old = out.size();
    out.resize(old + kOutStep);
    s.next_out = reinterpret_cast<uint8_t*>(out.data() + old);
    s.avail_out = kOutStep;
    const lzma_ret r = lzma_code(&s, s.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
    out.resize(old + kOutStep - s.avail_out);
    if (out.size() > cap) return OverCap(name, cap);
    if (r == LZMA_STREAM_END) break;
    if (r == LZMA_BUF_ERROR) return DataLossError(name + ": truncated xz stream");
    if (r != LZMA_OK) return DataLossError(name + ": corrupt xz data (liblzma error " + std::to_string(r) + ")");
  }
  return out;
}

}  // namespace

Compression DetectCompression(std::string_view b) {
  if (b.size() >= 2 && static_cast<uint8_t>(b[0]) == 0x1f && static_cast<uint8_t>(b[1]) == 0x8b) return Compression::kGzip;
  if (b.size() >= 4 && b.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)) return Compression::kZstd;
  if (b.size() >= 6 && b.substr(0, 6) == std::string_view("\xfd" "7zXZ\0", 6)) return Compression::kXz;
  return Compression::kNone;
}

StatusOr<std::string> Decompress(Compression c, std::string_view in, uint64_t cap, const std::string& name) {
  switch (c) {
    case Compression::kGzip: return Gunzip(in, cap, name);
    case Compression::kZstd: return Unzstd(in, cap, name);
    case Compression::kXz: return Unxz(in, cap, name);
    case Compression::kNone: break;
  }
  return std::string(in);
}

}  // namespace gemrun::ingest
