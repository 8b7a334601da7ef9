// Routing rule, chat body and response parsing, sha256, the daily budget file, and the router's
// fallbacks without a server (a closed loopback port): no answer is lost, no call is made on a
// local decision. The HTTP paths against real servers are in tests/e2e/remote_test.sh.
#include "remote/router.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "remote/audit.h"
#include "remote/client.h"

namespace gemrun::remote {
namespace {

LocalResult Local(double conf) {
  LocalResult l;
  l.available = true;
  l.text = "local answer";
  l.mean_logprob = conf;
  return l;
}

TEST(RemoteRoute, DecisionRule) {
  EXPECT_FALSE(Decide(Escalate::kNever, -1, Local(-9)).remote);
  EXPECT_TRUE(Decide(Escalate::kAlways, -1, Local(0)).remote);
  Decision d = Decide(Escalate::kAuto, -1.5, Local(-0.41));
  EXPECT_FALSE(d.remote);
  EXPECT_EQ(d.reason, "confidence -0.41 >= -1.50");
  d = Decide(Escalate::kAuto, -1.5, Local(-2.0));
  EXPECT_TRUE(d.remote);
  EXPECT_EQ(d.rule, "confidence");
  LocalResult big;
  big.fits_context = false;
  big.prompt_tokens = 9000;
  big.context = 4096;
  EXPECT_EQ(Decide(Escalate::kAuto, -1.5, big).rule, "context");
  LocalResult bad = Local(0);
  bad.valid = false;
  EXPECT_EQ(Decide(Escalate::kAuto, -1.5, bad).rule, "schema");
  EXPECT_FALSE(ParseEscalate("sometimes").ok());
}

TEST(RemoteClient, EndpointAndBody) {
  EXPECT_EQ(ChatEndpoint("http://127.0.0.1:8080"), "http://127.0.0.1:8080/v1/chat/completions");
  EXPECT_EQ(ChatEndpoint("http://h/v1/"), "http://h/v1/chat/completions");
  EXPECT_EQ(ChatEndpoint("http://h/x/chat/completions"), "http://h/x/chat/completions");
  ChatRequest req;
  req.messages = {{"user", "hi\xff"}};  // invalid UTF-8 does not throw
  req.max_tokens = 7;
  auto j = nlohmann::json::parse(BuildChatBody(req));
  EXPECT_EQ(j["max_tokens"], 7);
  EXPECT_EQ(j["messages"][0]["role"], "user");
}

TEST(RemoteClient, ParseResponses) {
  auto r = ParseChatResponse(R"({"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}],
                                 "usage":{"prompt_tokens":3,"completion_tokens":1}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, "ok");
  EXPECT_EQ(r->prompt_tokens, 3);
  auto s = ParseChatResponse("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                             "data: {\"choices\":[{\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->text, "ab");
  EXPECT_FALSE(ParseChatResponse("{not json").ok());
  EXPECT_FALSE(ParseChatResponse(R"({"choices":[]})").ok());
  EXPECT_FALSE(ParseChatResponse("data: {broken\n").ok());
}

TEST(RemoteAudit, Sha256) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

std::string TempPath(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string(name) + std::to_string(getpid()))).string();
}

TEST(RemoteAudit, DailyBudget) {
  const std::string p = TempPath("gemrun-budget-");
  std::filesystem::remove(p);
  DailyBudget b(p, 100);
  EXPECT_EQ(b.UsedToday(), 0);
  ASSERT_TRUE(b.Charge(60).ok());
  ASSERT_TRUE(b.Charge(30).ok());
  EXPECT_EQ(b.UsedToday(), 90);
  EXPECT_TRUE(b.Allows(10));
  EXPECT_FALSE(b.Allows(11));
  std::ofstream(p) << R"({"day":"1999-01-01","tokens":5000})";  // yesterday's total does not count
  EXPECT_EQ(b.UsedToday(), 0);
  std::filesystem::remove(p);
}

// A port nothing listens on: bind, read the port, close.
RouterOptions ClosedPortOptions(Escalate mode, const std::string& audit) {
  RouterOptions o;
  o.mode = mode;
  o.client.url = "http://127.0.0.1:9";  // discard port: closed on test machines
  o.client.retries = 1;
  o.client.backoff_ms = 10;
  o.client.connect_timeout_ms = 2000;
  o.audit_path = audit;
  o.budget_path = TempPath("gemrun-budget-r-");
  return o;
}

TEST(RemoteRoute, NeverSendsNothing) {
  const std::string audit = TempPath("gemrun-audit-n-");
  std::filesystem::remove(audit);
  Router router(ClosedPortOptions(Escalate::kNever, audit));
  ChatRequest req;
  req.messages = {{"user", "10.0.0.1 is down"}};
  RouteResult r = router.Route(req, Local(-9));
  EXPECT_FALSE(r.remote_used);
  EXPECT_EQ(r.text, "local answer");
  EXPECT_FALSE(std::filesystem::exists(audit));  // no call, no audit line
}

TEST(RemoteRoute, FailureFallsBackAndIsAudited) {
  const std::string audit = TempPath("gemrun-audit-f-");
  std::filesystem::remove(audit);
  Router router(ClosedPortOptions(Escalate::kAlways, audit));
  ChatRequest req;
  req.messages = {{"user", "10.0.0.1 is down, password=hunter22"}};
  RouteResult r = router.Route(req, Local(0));
  EXPECT_TRUE(r.fell_back);
  EXPECT_TRUE(r.has_answer);
  EXPECT_EQ(r.text, "local answer");
  EXPECT_NE(r.Line().find("local answer instead"), std::string::npos) << r.Line();
  std::ifstream in(audit);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["outcome"], "error");
  EXPECT_EQ(j["attempts"], 2);
  const std::string body = j["body"];
  EXPECT_EQ(j["body_sha256"], Sha256Hex(body));
  EXPECT_EQ(body.find("10.0.0.1"), std::string::npos);
  EXPECT_EQ(body.find("hunter22"), std::string::npos);
  // Without a local answer there is nothing to show.
  LocalResult none;
  EXPECT_FALSE(router.Route(req, none).has_answer);
  std::filesystem::remove(audit);
}

TEST(RemoteRoute, OverBudgetMakesNoCall) {
  const std::string audit = TempPath("gemrun-audit-b-");
  std::filesystem::remove(audit);
  RouterOptions o = ClosedPortOptions(Escalate::kAlways, audit);
  o.max_tokens_per_call = 5;
  Router router(o);
  ChatRequest req;
  req.messages = {{"user", std::string(300, 'x')}};
  RouteResult r = router.Route(req, Local(0));
  EXPECT_TRUE(r.fell_back);
  EXPECT_NE(r.note.find("over budget"), std::string::npos) << r.note;
  std::ifstream in(audit);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["outcome"], "over_budget");
  EXPECT_FALSE(j.contains("body"));  // nothing was sent
  std::filesystem::remove(audit);
}

}  // namespace
}  // namespace gemrun::remote
