// Ingest decoders: text, .gz/.zst/.xz (and corrupt / truncated / bomb inputs), PDF (a text
// page and a page with no text layer, hand-written bytes), HTML, journalctl JSON, binary
// detection, and a directory walk with .gitignore, globs and a binary file.
#include <gtest/gtest.h>
#include <lzma.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>

#include "ingest/ingest.h"

namespace gemrun::ingest {
namespace {

std::string Gzip(const std::string& s) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, s.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  z.avail_in = s.size();
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = out.size();
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
std::string Zstd(const std::string& s) {
  std::string out(ZSTD_compressBound(s.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), s.data(), s.size(), 3));
  return out;
}
std::string Xz(const std::string& s) {
  std::string out(lzma_stream_buffer_bound(s.size()), '\0');
  size_t pos = 0;
  lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr, reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                          reinterpret_cast<uint8_t*>(out.data()), &pos, out.size());
  out.resize(pos);
  return out;
}

// A two-page PDF: page 1 has "Hello PDF world" in its text layer, page 2 draws only a
// rectangle (like a scanned page: no text). Offsets in the xref table are computed.
std::string TinyPdf() {
  const std::string c1 = "BT /F1 12 Tf 72 712 Td (Hello PDF world) Tj ET";
  const std::string c2 = "0 0 1 rg 72 72 200 200 re f";
  std::vector<std::string> objs = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R /Resources << /Font << /F1 7 0 R >> >> >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R >>",
      "<< /Length " + std::to_string(c1.size()) + " >>\nstream\n" + c1 + "\nendstream",
      "<< /Length " + std::to_string(c2.size()) + " >>\nstream\n" + c2 + "\nendstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> off;
  for (size_t i = 0; i < objs.size(); ++i) {
    off.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t o : off) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%010zu 00000 n \n", o);
    pdf += buf;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

TEST(IngestTest, PlainTextLinesAndCrlf) {
  std::vector<std::string> notes;
  auto d = DecodeBytes("a.log", "one\r\ntwo\nthree", {}, &notes);
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ(d->unit(0), "one\n");
  EXPECT_EQ(d->unit(2), "three\n");
  EXPECT_EQ(d->Label(2, 3), "a.log:2-3");
}

TEST(IngestTest, CompressedFormatsRoundTrip) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i) + " kernel: something\n";
  for (const auto& [name, bytes] : {std::pair{std::string("s.log.gz"), Gzip(text)}, {"s.log.zst", Zstd(text)},
                                    {"s.log.xz", Xz(text)}}) {
    std::vector<std::string> notes;
    auto d = DecodeBytes(name, bytes, {}, &notes);
    ASSERT_TRUE(d.ok()) << name << ": " << d.status().message();
    EXPECT_EQ(d->text, text) << name;
    EXPECT_EQ(d->size(), 2000u);
    EXPECT_EQ(d->name, name);  // citations name the file as stored
  }
  // Concatenated gzip members read as one stream.
  auto d = DecodeBytes("c.gz", Gzip("a\n") + Gzip("b\n"), {}, nullptr);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->text, "a\nb\n");
}

TEST(IngestTest, CorruptTruncatedAndBombsAreErrors) {
  const std::string text(4 << 20, 'x');
  for (const std::string& z : {Gzip(text), Zstd(text), Xz(text)}) {
    auto t = DecodeBytes("t", z.substr(0, z.size() / 2), {}, nullptr);
    EXPECT_EQ(t.status().code(), StatusCode::kDataLoss) << t.status().message();
    std::string bad = z;
    for (size_t i = 12; i < bad.size() && i < 60; ++i) bad[i] ^= 0x5a;
    auto c = DecodeBytes("c", bad, {}, nullptr);
    EXPECT_FALSE(c.ok());
    IngestLimits small;
    small.max_decoded_bytes = 1 << 20;  // 4 MiB of output against a 1 MiB cap
    auto b = DecodeBytes("bomb.gz", z, small, nullptr);
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(b.status().message().find("more than 1 MiB"), std::string::npos) << b.status().message();
  }
}

TEST(IngestTest, PdfPagesAndPageWithoutText) {
  auto d = DecodeBytes("m.pdf", TinyPdf(), {}, nullptr);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_TRUE(d->paged);
  ASSERT_EQ(d->size(), 2u);
  EXPECT_NE(d->unit(0).find("Hello PDF world"), std::string::npos) << d->unit(0);
  EXPECT_NE(d->unit(1).find("no text layer"), std::string::npos) << d->unit(1);
  EXPECT_EQ(d->Label(2, 2), "m.pdf#2");
  auto bad = DecodeBytes("bad.pdf", "%PDF-1.4\ngarbage garbage\n", {}, nullptr);
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss) << bad.status().message();
  const std::string pdf = TinyPdf();
  auto cut = DecodeBytes("cut.pdf", pdf.substr(0, pdf.size() / 3), {}, nullptr);
  EXPECT_TRUE(cut.ok() || cut.status().code() == StatusCode::kDataLoss);  // never a crash
}

TEST(IngestTest, HtmlTextAtSourceLinesWithoutScripts) {
  const std::string html =
      "<!DOCTYPE html>\n<html><head><title>Runbook</title>\n<script>var secret = 1;</script>\n"
      "<style>p { color: red }</style></head>\n<body>\n<p>Restart   the\nservice</p>\n</body></html>\n";
  auto d = DecodeBytes("r.html", html, {}, nullptr);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->text.find("secret"), std::string::npos);
  EXPECT_EQ(d->text.find("color"), std::string::npos);
  ASSERT_GE(d->size(), 7u);
  EXPECT_EQ(d->unit(1), "Runbook\n");
  EXPECT_EQ(d->unit(5), "Restart the\n");
  EXPECT_EQ(d->unit(6), "service\n");
}

TEST(IngestTest, JournalJsonLines) {
  const std::string j =
      R"({"__REALTIME_TIMESTAMP":"1700000000123456","_SYSTEMD_UNIT":"nginx.service","MESSAGE":"bind() failed"})"
      "\n"
      R"({"__REALTIME_TIMESTAMP":"1700000001000000","SYSLOG_IDENTIFIER":"kernel","MESSAGE":[104,105]})"
      "\nnot json\n";
  auto d = DecodeBytes("j.json", j, {}, nullptr);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ(d->unit(0), "2023-11-14T22:13:20.123456Z nginx.service: bind() failed\n");
  EXPECT_EQ(d->unit(1), "2023-11-14T22:13:21.000000Z kernel: hi\n");
  EXPECT_EQ(d->unit(2), "not json\n");
  auto plain = DecodeBytes("c.json", "{\"a\": 1}\n", {}, nullptr);  // ordinary JSON stays text
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->text, "{\"a\": 1}\n");
}

TEST(IngestTest, BinaryIsRefusedWithAReason) {
  std::string bin = "\x7f" "ELF";
  bin += std::string(64, '\0');
  auto d = DecodeBytes("a.out", bin, {}, nullptr);
  EXPECT_EQ(d.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(d.status().message().find("binary"), std::string::npos);
  EXPECT_FALSE(LooksBinary("plain text\twith tabs\n"));
}

TEST(IngestTest, DirectoryWalkWithGitignoreGlobsAndBinary) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("ingest_walk_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "sub" / "build");
  auto put = [](const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; };
  put(root / ".gitignore", "*.tmp\nbuild/\n");
  put(root / "a.log", "alpha\n");
  put(root / "b.tmp", "ignored\n");
  put(root / "prog.bin", std::string("\0\1\2\3", 4));
  put(root / "sub" / "c.txt", "gamma\n");
  put(root / "sub" / ".gitignore", "!keep.tmp\n");
  put(root / "sub" / "keep.tmp", "kept\n");
  put(root / "sub" / "build" / "out.txt", "ignored\n");
  put(root / "sub" / "d.gz", Gzip("delta\n"));
  IngestResult r;
  ASSERT_TRUE(IngestPaths({root.string()}, {}, &r).ok());
  std::vector<std::string> names;
  for (const auto& d : r.docs) names.push_back(fs::path(d.name).lexically_relative(root).string());
  EXPECT_EQ(names, (std::vector<std::string>{".gitignore", "a.log", "sub/.gitignore", "sub/c.txt", "sub/d.gz",
                                             "sub/keep.tmp"}));
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("prog.bin"), std::string::npos);
  EXPECT_NE(r.notes[0].find("binary"), std::string::npos);
  IngestOptions o;
  o.include = {"*.txt", "*.gz"};
  o.exclude = {"sub/d.gz"};
  IngestResult r2;
  ASSERT_TRUE(IngestPaths({root.string()}, o, &r2).ok());
  ASSERT_EQ(r2.docs.size(), 1u);
  EXPECT_EQ(r2.docs[0].text, "gamma\n");
  IngestResult r3;
  EXPECT_EQ(IngestPaths({(root / "nope").string()}, {}, &r3).code(), StatusCode::kNotFound);
  EXPECT_EQ(IngestPaths({(root / "prog.bin").string()}, {}, &r3).code(), StatusCode::kUnimplemented);
  fs::remove_all(root);
}

}  // namespace
}  // namespace gemrun::ingest
