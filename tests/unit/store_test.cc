// The model store without the network: manifest round trip, pull references, the catalogue,
// quantization matching and file choice from a repo listing, blob sharing and removal.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/sha256.h"
#include "store/bundle.h"
#include "store/manifest.h"
#include "store/ref.h"
#include "store/store.h"

namespace gemrun::store {
namespace {

Manifest Sample(const std::string& name, const std::string& sha) {
  Manifest m;
  m.name = name;
  m.ref = "org/repo:Q4_K_M";
  m.model = {sha, 1234, "https://h/org/repo/resolve/main/m-Q4_K_M.gguf", "m-Q4_K_M.gguf", "lfs"};
  m.architecture = "gemma3";
  m.quantization = "Q4_K";
  m.description = "gemma3 tiny";
  m.created = "2026-12-02T10:00:00Z";
  return m;
}

TEST(StoreManifestTest, RoundTrip) {
  Manifest m = Sample("org/repo:Q4_K_M", std::string(64, 'a'));
  m.projector = BlobRef{std::string(64, 'b'), 99, "u", "mmproj-f16.gguf", "lfs"};
  auto back = Manifest::FromJson(m.ToJson(), "x.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ToJson(), m.ToJson());
  EXPECT_EQ(back->projector->file, "mmproj-f16.gguf");
  m.projector.reset();
  back = Manifest::FromJson(m.ToJson(), "x.json");
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->projector.has_value());
}

TEST(StoreManifestTest, RejectsBadJsonAndUnsafeHashes) {
  EXPECT_EQ(Manifest::FromJson("{", "bad.json").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(Manifest::FromJson("[]", "bad.json").status().code(), StatusCode::kDataLoss);
  Manifest m = Sample("n", "../../etc/passwd");  // a hash names a path: it must be hex
  auto r = Manifest::FromJson(m.ToJson(), "evil.json");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("evil.json"), std::string::npos);
}

TEST(StoreRefTest, Forms) {
  auto a = ParsePullRef("hf://ggml-org/gemma-3-1b-it-GGUF/gemma-3-1b-it-Q8_0.gguf");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->kind, PullRef::Kind::kHfFile);
  EXPECT_EQ(a->repo, "ggml-org/gemma-3-1b-it-GGUF");
  EXPECT_EQ(a->file, "gemma-3-1b-it-Q8_0.gguf");
  auto b = ParsePullRef("ggml-org/gemma-4-12B-it-GGUF:Q4_K_M");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->kind, PullRef::Kind::kHfQuant);
  EXPECT_EQ(b->quant, "Q4_K_M");
  EXPECT_EQ(b->name, "ggml-org/gemma-4-12B-it-GGUF:Q4_K_M");
  auto c = ParsePullRef("https://example.com/dir/model.gguf?download=1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, PullRef::Kind::kUrl);
  EXPECT_EQ(c->name, "model");
  auto d = ParsePullRef("gemma3:1b");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->repo, "ggml-org/gemma-3-1b-it-GGUF");
  EXPECT_EQ(d->catalogue_name, "gemma3:1b");
  auto e = ParsePullRef("org/repo");  // no quant: Ollama's default
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->quant, "Q4_K_M");
  for (const char* bad : {"nonsense", "hf://org/repo", "hf://org/x.gguf", "hf://org/repo/../x.gguf", "org/repo:",
                          "gemma9:1b", "https://host/"}) {
    auto r = ParsePullRef(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParsePullRef("nonsense").status().message().find("gemma3:1b"), std::string::npos);
}

TEST(StoreRefTest, CatalogueIsValid) {
  const auto& c = Catalogue();
  ASSERT_GE(c.size(), 4u);
  for (const char* n : {"gemma3:1b", "gemma3:4b", "gemma4:e4b", "gemma4:12b"}) {
    bool found = false;
    for (const auto& e : c) found |= e.name == n && !e.repo.empty() && !e.quant.empty();
    EXPECT_TRUE(found) << n;
  }
}

TEST(StoreRefTest, QuantMatching) {
  EXPECT_TRUE(QuantMatches("gemma-3-1b-it-Q4_K_M.gguf", "q4_k_m"));
  EXPECT_TRUE(QuantMatches("sub/gemma-3-1b-it.Q8_0.gguf", "Q8_0"));
  EXPECT_FALSE(QuantMatches("gemma-3-1b-it-Q4_K_M.gguf", "Q4_K"));
  EXPECT_FALSE(QuantMatches("gemma-3-1b-it-Q4_0_4_4.gguf", "Q4_0"));
  EXPECT_FALSE(QuantMatches("gemma-3-1b-it-IQ4_XS.gguf", "Q4_XS"));
  EXPECT_FALSE(QuantMatches("x.gguf", ""));
}

TEST(StoreRefTest, ChooseFilesFromListing) {
  const std::string listing = R"([
    {"type":"directory","path":"sub"},
    {"type":"file","path":"README.md","size":10},
    {"type":"file","path":"m-Q4_K_M.gguf","size":5,"lfs":{"oid":"AB","size":500}},
    {"type":"file","path":"m-Q8_0.gguf","size":5,"lfs":{"oid":"cd","size":800}},
    {"type":"file","path":"mmproj-m-Q8_0.gguf","size":5,"lfs":{"oid":"ee","size":80}},
    {"type":"file","path":"mmproj-m-f16.gguf","size":5,"lfs":{"oid":"ff","size":90}}])";
  auto files = ParseRepoListing(listing, "listing");
  ASSERT_TRUE(files.ok()) << files.status().message();
  ASSERT_EQ(files->size(), 5u);
  EXPECT_EQ((*files)[1].sha256, "ab");  // lowercased
  EXPECT_EQ((*files)[1].size, 500u);    // the LFS size, not the pointer's
  auto c = ChooseFiles(*files, "o/r", "q8_0");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model.path, "m-Q8_0.gguf");      // not the Q8_0 projector
  EXPECT_EQ(c->projector.path, "mmproj-m-f16.gguf");  // full precision preferred
  auto none = ChooseFiles(*files, "o/r", "Q2_K");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("m-Q4_K_M.gguf"), std::string::npos);  // lists what exists
  EXPECT_EQ(ParseRepoListing("{\"error\":1}", "l").status().code(), StatusCode::kDataLoss);
}

class StoreDirTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::TempDir() + "/store_test_" + std::to_string(::getpid());
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  // Writes `text` into partial/ and adopts it as a blob; returns its hash.
  std::string AddBlob(const Store& s, const std::string& text) {
    EXPECT_TRUE(s.EnsureDirs().ok());
    const std::string p = s.PartialDir() + "/x.partial";
    std::ofstream(p) << text;
    const std::string sha = Sha256Hex(text);
    EXPECT_TRUE(s.AdoptBlob(p, sha).ok());
    return sha;
  }
  std::string root_;
};

TEST_F(StoreDirTest, TwoNamesShareABlobUntilBothAreRemoved) {
  Store s(root_);
  const std::string sha = AddBlob(s, "weights");
  EXPECT_EQ(AddBlob(s, "weights"), sha);  // adopting it again keeps one copy
  ASSERT_TRUE(s.Put(Sample("org/repo:Q4_K_M", sha)).ok());
  ASSERT_TRUE(s.Put(Sample("alias", sha)).ok());
  auto list = s.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alias");
  EXPECT_EQ((*list)[1].name, "org/repo:Q4_K_M");  // '/' in a name is escaped, not a directory
  auto freed = s.Remove("alias");
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(*freed, 0u);
  EXPECT_TRUE(s.HasBlob(sha));
  freed = s.Remove("org/repo:Q4_K_M");
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(*freed, 1234u);
  EXPECT_FALSE(s.HasBlob(sha));
  EXPECT_EQ(s.Get("alias").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.Remove("alias").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreDirTest, BadNames) {
  for (const char* bad : {"", "..", "../x", ".hidden", "-m", "a\nb", "a\\b"})
    EXPECT_EQ(Store::ValidateName(bad).code(), StatusCode::kInvalidArgument) << bad;
  EXPECT_TRUE(Store::ValidateName("gemma3:1b").ok());
}

TEST_F(StoreDirTest, ResolveModelArgPrefersExistingPaths) {
  Store s(root_);
  const std::string sha = AddBlob(s, "weights");
  Manifest m = Sample("tiny", sha);
  const std::string psha = AddBlob(s, "projector");
  m.projector = BlobRef{psha, 9, "u", "mmproj.gguf", "lfs"};
  ASSERT_TRUE(s.Put(m).ok());
  ::setenv("GEMRUN_HOME", root_.c_str(), 1);
  auto r = ResolveModelArg("tiny");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->model_path, s.BlobPath(sha));
  EXPECT_EQ(r->projector_path, s.BlobPath(psha));
  EXPECT_FALSE(ResolveModelArg(root_).has_value());  // an existing path is used as given
  EXPECT_FALSE(ResolveModelArg("absent").has_value());
  ::unsetenv("GEMRUN_HOME");
}

}  // namespace
}  // namespace gemrun::store

namespace gemrun::store {
namespace {

TEST_F(StoreDirTest, BundleRoundTripAndTampering) {
  Store a(root_ + "/a"), b(root_ + "/b");
  Manifest m = Sample("tiny", AddBlob(a, std::string(3000, 'w')));
  m.model.size = 3000;
  m.projector = BlobRef{AddBlob(a, "proj"), 4, "u", "mmproj.gguf", "lfs"};
  ASSERT_TRUE(a.Put(m).ok());
  const std::string tar = root_ + "/x.tar";
  ASSERT_TRUE(ExportBundle(a, "tiny", tar).ok());
  auto got = ImportBundle(b, tar, "renamed");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->name, "renamed");
  EXPECT_TRUE(b.HasBlob(m.model.sha256));
  EXPECT_TRUE(b.HasBlob(m.projector->sha256));
  EXPECT_TRUE(b.Has("renamed"));

  // One flipped byte inside the model blob: a mismatch, and nothing enters a fresh store.
  std::string bytes;
  {
    std::ifstream in(tar, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t k = bytes.find(std::string(100, 'w'));
  ASSERT_NE(k, std::string::npos);
  std::string bad = bytes;
  bad[k + 50] = 'x';
  std::ofstream(tar, std::ios::binary | std::ios::trunc) << bad;
  Store c(root_ + "/c");
  auto r = ImportBundle(c, tar, "");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("SHA-256 mismatch"), std::string::npos) << r.status().message();
  EXPECT_FALSE(c.HasBlob(m.model.sha256));
  EXPECT_FALSE(c.Has("tiny"));
  EXPECT_TRUE(std::filesystem::is_empty(c.PartialDir()));

  // Truncated and garbage bundles are DataLoss too.
  std::ofstream(tar, std::ios::binary | std::ios::trunc) << bytes.substr(0, 2000);
  EXPECT_EQ(ImportBundle(c, tar, "").status().code(), StatusCode::kDataLoss);
  std::ofstream(tar, std::ios::binary | std::ios::trunc) << std::string(1024, 'g');
  EXPECT_EQ(ImportBundle(c, tar, "").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ImportBundle(c, root_ + "/absent.tar", "").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace gemrun::store
