// Images in server requests: base64 and data: URL parsing, URL schemes and the local-file
// policy, OpenAI image parts and Ollama `images` (field paths in every error), the prompt
// layout around images, and the projector service (token counts from headers, corrupt input).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "server/image_input.h"
#include "server/image_prompt.h"
#include "server/ollama.h"
#include "server/openai.h"
#include "server_test_util.h"

namespace gemrun::server {
namespace {

namespace fs = std::filesystem;

const fs::path kVision = fs::path(GEMRUN_TEST_DATA) / "vision";
const ImagePolicy kOn{.enabled = true, .max_images = 3, .files_dir = ""};
const RequestLimits kLim{.n_vocab = 1000, .images = kOn};

Json J(const std::string& s) { return Json::parse(s); }

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string Base64(const std::string& bytes) {
  static const char* kAlpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int k = 3; k >= 0; --k) out += kAlpha[(v >> (6 * k)) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += std::string{kAlpha[v >> 18], kAlpha[(v >> 12) & 63]} + "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += std::string{kAlpha[v >> 18], kAlpha[(v >> 12) & 63], kAlpha[(v >> 6) & 63]} + "=";
  }
  return out;
}

uint32_t Crc32(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string Chunk(const std::string& type, const std::string& data) {
  return Be32(static_cast<uint32_t>(data.size())) + type + data + Be32(Crc32(type + data));
}

// A well-formed PNG header claiming 100000 x 100000 pixels (no pixel data worth decoding).
std::string HugePng() {
  const std::string ihdr = Be32(100000) + Be32(100000) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + Chunk("IHDR", ihdr) + Chunk("IDAT", std::string(16, '\0')) +
         Chunk("IEND", "");
}

std::optional<ApiError> Chat(const std::string& content_json, ApiRequest* r, const RequestLimits& lim = kLim) {
  return ParseChatCompletionRequest(J(R"({"model": "m", "messages": [{"role": "user", "content": )" + content_json + "}]}"),
                                    lim, r);
}

std::string ImagePart(const std::string& url, const std::string& extra = "") {
  return R"({"type": "image_url", "image_url": {"url": ")" + url + "\"" + extra + "}}";
}

TEST(ServerImages, Base64Forms) {
  std::string out;
  EXPECT_FALSE(DecodeBase64("aGVsbG8=", "p", &out));
  EXPECT_EQ(out, "hello");
  EXPECT_FALSE(DecodeBase64("aGVsbG8", "p", &out));  // padding optional
  EXPECT_EQ(out, "hello");
  EXPECT_FALSE(DecodeBase64("aGVs\r\nbG8=\n", "p", &out));  // MIME line breaks
  EXPECT_EQ(out, "hello");
  EXPECT_FALSE(DecodeBase64("/+8=", "p", &out));
  EXPECT_EQ(out, "\xff\xef");
  for (const char* bad : {"", "  ", "aGVs*bG8=", "aGVsbG8=x", "aGVsb", "aGVsbG8===", "aGVs=", "aGVsbG8-", "ZZ=Z"}) {
    auto e = DecodeBase64(bad, "images[0]", &out);
    ASSERT_TRUE(e) << bad;
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->param, "images[0]");
    EXPECT_EQ(e->code, "invalid_base64");
  }
}

TEST(ServerImages, DataUrls) {
  ImageInput in;
  EXPECT_FALSE(ParseImageUrl("data:image/png;base64,aGVsbG8=", "u", kOn, &in));
  EXPECT_EQ(in.bytes, "hello");
  EXPECT_EQ(in.param, "u");
  EXPECT_TRUE(in.file.empty());
  // Any image/* type and parameters: the bytes decide the format later.
  for (const char* ok : {"data:image/jpeg;base64,aGk=", "DATA:Image/WebP;BASE64,aGk=", "data:image/png;name=a.png;base64,aGk="}) {
    EXPECT_FALSE(ParseImageUrl(ok, "u", kOn, &in)) << ok;
    EXPECT_EQ(in.bytes, "hi");
  }
  for (const char* bad : {"data:text/plain;base64,aGk=", "data:;base64,aGk=", "data:image/png,rawbytes", "data:image/png;base64",
                          "data:image/png;base64,***"}) {
    auto e = ParseImageUrl(bad, "messages[0].content[1].image_url.url", kOn, &in);
    ASSERT_TRUE(e) << bad;
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->param, "messages[0].content[1].image_url.url");
  }
}

TEST(ServerImages, UrlSchemesAndTheFilePolicy) {
  ImageInput in;
  auto e = ParseImageUrl("https://example.com/cat.png", "u", kOn, &in);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("--allow-image-urls"), std::string::npos);
  e = ParseImageUrl("http://127.0.0.1/x.png", "u", kOn, &in);
  ASSERT_TRUE(e);
  for (const char* bad : {"ftp://host/x.png", "cat.png", "", "javascript:alert(1)", "file:relative.png", "file://host/x.png"}) {
    e = ParseImageUrl(bad, "u", ImagePolicy{.enabled = true, .max_images = 8, .files_dir = "/srv"}, &in);
    ASSERT_TRUE(e) << bad;
    EXPECT_EQ(e->param, "u");
  }
  // Local paths need --allow-image-files.
  e = ParseImageUrl("file:///srv/img/a.png", "u", kOn, &in);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("--allow-image-files"), std::string::npos);
  e = ParseImageUrl("/srv/img/a.png", "u", kOn, &in);
  ASSERT_TRUE(e);
  const ImagePolicy files{.enabled = true, .max_images = 8, .files_dir = "/srv"};
  EXPECT_FALSE(ParseImageUrl("file:///srv/img/a%20b.png", "u", files, &in));
  EXPECT_EQ(in.file, "/srv/img/a b.png");
  EXPECT_FALSE(ParseImageUrl("file://localhost/srv/a.png", "u", files, &in));
  EXPECT_EQ(in.file, "/srv/a.png");
  EXPECT_FALSE(ParseImageUrl("/srv/a.png", "u", files, &in));
  EXPECT_EQ(in.file, "/srv/a.png");
  EXPECT_TRUE(ParseImageUrl("file:///srv/a%2", "u", files, &in));
  EXPECT_TRUE(ParseImageUrl("file:///srv/a%00.png", "u", files, &in));
}

TEST(ServerImages, FilesStayInsideTheAllowedDirectory) {
  const fs::path root = fs::temp_directory_path() / ("gemrun_img_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "allowed" / "sub");
  std::ofstream(root / "allowed" / "sub" / "a.png") << "png bytes";
  std::ofstream(root / "secret.png") << "secret";
  fs::create_symlink(root / "secret.png", root / "allowed" / "link.png");
  fs::create_symlink(root / "allowed" / "sub" / "a.png", root / "allowed" / "inside_link.png");
  const ImagePolicy p{.enabled = true, .max_images = 8, .files_dir = fs::canonical(root / "allowed").string()};
  auto read = [&](const fs::path& path, std::string* out) {
    ImageInput in;
    in.param = "u";
    in.file = path.string();
    return ReadImageFile(in, p, out);
  };
  std::string bytes;
  EXPECT_FALSE(read(root / "allowed" / "sub" / "a.png", &bytes));
  EXPECT_EQ(bytes, "png bytes");
  EXPECT_FALSE(read(root / "allowed" / "inside_link.png", &bytes));  // a symlink that stays inside
  EXPECT_EQ(bytes, "png bytes");
  for (const fs::path& bad : {root / "secret.png", root / "allowed" / "link.png", root / "allowed" / ".." / "secret.png",
                              root / "allowed" / "missing.png", root / "allowed" / "sub", root / "allowed",
                              root / "allowedX" / "a.png"}) {
    auto e = read(bad, &bytes);
    ASSERT_TRUE(e) << bad;
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->param, "u");
  }
  fs::remove_all(root);
}

TEST(ServerImages, OpenAIImageParts) {
  ApiRequest r;
  const std::string url = "data:image/png;base64," + Base64("PNGDATA");
  ASSERT_FALSE(Chat(R"([{"type": "text", "text": "a"}, )" + ImagePart(url, R"(, "detail": "low")") +
                        R"(, {"type": "text", "text": "b"}])", &r));
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.images[0].bytes, "PNGDATA");
  EXPECT_EQ(r.images[0].param, "messages[0].content[1].image_url.url");
  EXPECT_EQ(r.messages[0].content, "a" + std::string(kImageSlot) + "b");
  for (const char* d : {"auto", "high"}) EXPECT_FALSE(Chat("[" + ImagePart(url, std::string(R"(, "detail": ")") + d + "\"") + "]", &r));

  struct Case {
    std::string content;
    std::string param;
  };
  const std::vector<Case> bad = {
      {"[" + ImagePart(url, R"(, "detail": "ultra")") + "]", "messages[0].content[0].image_url.detail"},
      {"[" + ImagePart(url, R"(, "detail": 3)") + "]", "messages[0].content[0].image_url.detail"},
      {"[" + ImagePart(url, R"(, "size": 3)") + "]", "messages[0].content[0].image_url.size"},
      {R"([{"type": "image_url"}])", "messages[0].content[0].image_url"},
      {R"([{"type": "image_url", "image_url": "data:image/png;base64,aGk="}])", "messages[0].content[0].image_url"},
      {R"([{"type": "image_url", "image_url": {}}])", "messages[0].content[0].image_url.url"},
      {R"([{"type": "image_url", "image_url": {"url": 5}}])", "messages[0].content[0].image_url.url"},
      {R"([{"type": "image_url", "image_url": {"url": "x"}, "extra": 1}])", "messages[0].content[0].extra"},
      {"[" + ImagePart("https://example.com/a.png") + "]", "messages[0].content[0].image_url.url"},
      {"[" + ImagePart("data:image/png;base64,!!!!") + "]", "messages[0].content[0].image_url.url"},
      {"[" + ImagePart(url) + ", " + ImagePart(url) + ", " + ImagePart(url) + ", " + ImagePart(url) + "]",
       "messages[0].content[3]"},  // max_images = 3
      {R"([{"type": "text", "text": "a\u001fgemrun-image\u001fb"}])", "messages[0].content[0].text"},
      {R"("smuggled \u001fgemrun-image\u001f slot")", "messages[0].content"},
  };
  for (const Case& c : bad) {
    auto e = Chat(c.content, &r);
    ASSERT_TRUE(e) << c.content;
    EXPECT_EQ(e->status, 400) << c.content;
    EXPECT_EQ(e->param, c.param) << c.content;
  }
  // Images belong to user messages.
  auto e = ParseChatCompletionRequest(
      J(R"({"model": "m", "messages": [{"role": "assistant", "content": [)" + ImagePart(url) + "]}]}"), kLim, &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[0].content[0].type");
  // Several messages: images keep request order; the count is per request.
  ASSERT_FALSE(ParseChatCompletionRequest(
      J(R"({"model": "m", "messages": [{"role": "user", "content": [)" + ImagePart(url) + R"(]},
           {"role": "assistant", "content": "ok"}, {"role": "user", "content": [)" + ImagePart(url) + "," +
        ImagePart(url) + "]}]}"),
      kLim, &r));
  ASSERT_EQ(r.images.size(), 3u);
  EXPECT_EQ(r.images[2].param, "messages[2].content[1].image_url.url");
}

TEST(ServerImages, OllamaImages) {
  ApiRequest r;
  const std::string b64 = Base64("JPEGDATA");
  ASSERT_FALSE(ParseOllamaChatRequest(
      J(R"({"model": "m", "messages": [{"role": "user", "content": "what is it", "images": [")" + b64 + R"(", ")" + b64 +
        R"("]}]})"),
      kLim, 4096, &r));
  ASSERT_EQ(r.images.size(), 2u);
  EXPECT_EQ(r.images[1].bytes, "JPEGDATA");
  EXPECT_EQ(r.images[1].param, "messages[0].images[1]");
  EXPECT_EQ(r.messages[0].content, std::string(kImageSlot) + std::string(kImageSlot) + "what is it");  // images first

  ASSERT_FALSE(ParseOllamaGenerateRequest(J(R"({"model": "m", "prompt": "", "images": [")" + b64 + R"("]})"), kLim, 4096, &r));
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.images[0].param, "images[0]");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].content, std::string(kImageSlot));

  struct Case {
    std::string body;
    std::string param;
    bool chat;
  };
  const std::vector<Case> bad = {
      {R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["aGk=", "@@"]}]})", "messages[0].images[1]", true},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": "aGk="}]})", "messages[0].images", true},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": [5]}]})", "messages[0].images[0]", true},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["data:image/png;base64,aGk="]}]})",
       "messages[0].images[0]", true},
      {R"({"model": "m", "messages": [{"role": "assistant", "content": "x", "images": ["aGk="]}]})", "messages[0].images", true},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["aGk=", "aGk=", "aGk=", "aGk="]}]})",
       "messages[0].images[3]", true},
      {R"({"model": "m", "messages": [{"role": "user", "content": "\u001fgemrun-image\u001f"}]})", "messages[0].content", true},
      {R"({"model": "m", "prompt": "x", "raw": true, "images": ["aGk="]})", "images", false},
      {R"({"model": "m", "prompt": "x", "images": {"a": 1}})", "images", false},
      {R"({"model": "m", "prompt": "x\u001fgemrun-image\u001f"})", "prompt", false},
  };
  for (const Case& c : bad) {
    auto e = c.chat ? ParseOllamaChatRequest(J(c.body), kLim, 4096, &r) : ParseOllamaGenerateRequest(J(c.body), kLim, 4096, &r);
    ASSERT_TRUE(e) << c.body;
    EXPECT_EQ(e->status, 400) << c.body;
    EXPECT_EQ(e->param, c.param) << c.body;
  }
}

TEST(ServerImages, SlotsExpandToTheFamilyImageTokens) {
  const std::string slot(kImageSlot);
  EXPECT_EQ(ExpandImageSlots("a" + slot + "b", ChatFormat::kGemma3),
            "a\n\n<start_of_image>" + slot + "<end_of_image>\n\nb");
  EXPECT_EQ(ExpandImageSlots(slot + slot, ChatFormat::kGemma4),
            "\n\n<|image>" + slot + "<image|>\n\n\n\n<|image>" + slot + "<image|>\n\n");
  EXPECT_EQ(ExpandImageSlots("no images", ChatFormat::kGemma4), "no images");
}

TEST(ServerImages, LayoutPutsImageRowsBetweenTheirTokens) {
  EngineOptions eo;
  eo.threads = 1;
  eo.n_ctx = 512;
  auto e = Engine::Load((kVision / "models" / "g4v-f32.gguf").string(), eo);
  ASSERT_TRUE(e.ok()) << e.status().message();
  const Tokenizer& tok = (*e)->tokenizer();
  auto tmpl = ChatTemplate::ForGguf((*e)->model().file());
  ASSERT_TRUE(tmpl.ok());
  const std::vector<ChatMessage> msgs = {{"user", std::string(kImageSlot) + "Describe." + std::string(kImageSlot)}};
  const std::vector<int64_t> rows = {7, 5};
  std::vector<PromptSegment> segs;
  ASSERT_TRUE(LayoutImagePrompt(tok, *tmpl, msgs, rows, &segs).ok());
  ASSERT_EQ(segs.size(), 5u);
  EXPECT_EQ(segs[0].ids.front(), tok.vocab().bos());  // BOS once, first
  const auto one = [&](const char* text) {
    auto ids = tok.Encode(text, EncodeOptions{.add_special = false, .parse_special = true});
    EXPECT_EQ(ids.size(), 1u) << text;
    return ids.empty() ? -1 : ids[0];
  };
  EXPECT_EQ(segs[0].ids.back(), one("<|image>"));
  EXPECT_EQ(segs[1].n_rows, 7);
  EXPECT_EQ(segs[2].ids.front(), one("<image|>"));
  EXPECT_EQ(segs[3].n_rows, 5);
  EXPECT_EQ(std::count(segs[2].ids.begin(), segs[2].ids.end(), tok.vocab().bos()), 0);
  // Slots and images must pair up.
  EXPECT_FALSE(LayoutImagePrompt(tok, *tmpl, msgs, std::vector<int64_t>{7}, &segs).ok());
  EXPECT_FALSE(LayoutImagePrompt(tok, *tmpl, msgs, std::vector<int64_t>{7, 5, 3}, &segs).ok());
}

TEST(ServerImages, EncoderCountsTokensFromHeadersAndRefusesCorruptImages) {
  auto enc = vision::VisionEncoder::Load((kVision / "models" / "g4v-mmproj-f16.gguf").string());
  ASSERT_TRUE(enc.ok()) << enc.status().message();
  auto svc = ImageEncoder::Create(std::move(*enc), ImageEncoderOptions{.budget = {}, .non_causal = false, .threads = 2});
  ASSERT_TRUE(svc.ok()) << svc.status().message();
  ImageEncoder& ie = **svc;
  EXPECT_EQ(ie.max_tokens(), 280);  // gemma4v's default budget
  for (const char* name : {"grad-224x224.png", "scene-512x384-q75-444.jpg", "tiny-5x3.png"}) {
    const std::string bytes = ReadFile(kVision / "images" / name);
    const std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    auto n = ie.CountTokens(b, name);
    ASSERT_TRUE(n.ok()) << name << ": " << n.status().message();
    double wait = -1, ms = -1;
    auto seg = ie.Encode(b, name, &wait, &ms);
    ASSERT_TRUE(seg.ok()) << name;
    EXPECT_EQ(seg->n_rows, *n) << name;
    EXPECT_LE(seg->n_rows, ie.max_tokens());
    EXPECT_FALSE(seg->non_causal);
    EXPECT_GE(wait, 0);
    EXPECT_GT(ms, 0);
  }
  // Truncated, flipped CRC, not an image, oversized header: errors the handler turns into 400s.
  std::string png = ReadFile(kVision / "images" / "checker-640x360.png");
  std::string flipped = png;
  flipped[40] ^= 0x55;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"truncated", png.substr(0, png.size() / 2)}, {"corrupt", flipped}, {"text", "hello world"}, {"empty", ""},
      {"absurd size", HugePng()}};
  for (const auto& [what, bytes] : bad) {
    const std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    auto n = ie.CountTokens(b, "u");
    ASSERT_FALSE(n.ok()) << what;
    EXPECT_TRUE(n.status().code() == StatusCode::kDataLoss || n.status().code() == StatusCode::kInvalidArgument) << what;
    EXPECT_FALSE(ie.Encode(b, "u", nullptr, nullptr).ok()) << what;
  }
  // Concurrent callers are serialised and get the same rows.
  const std::string bytes = ReadFile(kVision / "images" / "grad-224x224.png");
  const std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  std::vector<std::vector<float>> out(3);
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i)
    ts.emplace_back([&, i] {
      auto s = ie.Encode(b, "u", nullptr, nullptr);
      if (s.ok()) out[i] = std::move(s->embd);
    });
  for (auto& t : ts) t.join();
  EXPECT_FALSE(out[0].empty());
  EXPECT_EQ(out[0], out[1]);
  EXPECT_EQ(out[0], out[2]);
}

// Byte mutations of image-carrying bodies through all parsers with images enabled.
TEST(ServerImages, MutatedImageBodiesNeverCrash) {
  const std::vector<std::string> seeds = {
      R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url",
          "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]}]})",
      R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["iVBORw0KGgo=", "/9j/4AAQ"]}]})",
      R"({"model": "m", "prompt": "p", "images": ["iVBORw0KGgo="], "options": {"seed": 1}})"};
  const RequestLimits lim{.n_vocab = 1000, .images = {.enabled = true, .max_images = 8, .files_dir = "/nonexistent"}};
  std::mt19937 rng(99);
  const char kBytes[] = "{}[]\",:=/+0123456789abcAZ \\\x1f\xff";
  int parsed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string b = seeds[iter % seeds.size()];
    MutateBody(b, rng, std::string_view(kBytes, sizeof kBytes - 1));
    Json j;
    if (ParseJsonBody(b, &j)) continue;
    ++parsed;
    ApiRequest r;
    if (!ParseChatCompletionRequest(j, lim, &r) || !ParseOllamaChatRequest(j, lim, 128, &r) ||
        !ParseOllamaGenerateRequest(j, lim, 128, &r)) {
      size_t slots = 0;
      for (const ChatMessage& m : r.messages)
        for (size_t at = 0; (at = m.content.find(kImageSlot, at)) != std::string::npos; at += kImageSlot.size()) ++slots;
      EXPECT_EQ(slots, r.images.size());  // every accepted image has exactly one slot
    }
  }
  EXPECT_GT(parsed, 1000);
}

}  // namespace
}  // namespace gemrun::server
