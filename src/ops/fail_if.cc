// The --fail-if parser (recursive descent) and evaluator over nlohmann::json.
#include "ops/fail_if.h"

#include <cctype>

namespace gemrun::ops {

using nlohmann::json;

struct FailIf::Node {
  enum Kind { kLit, kPath, kList, kNot, kAnd, kOr, kCmp, kIn } kind;
  json lit;                             // kLit
  std::vector<json> path;               // kPath: names (strings) and indexes (numbers)
  std::string op;                       // kCmp: == != < <= > >=; kIn: "in" / "not in"
  std::vector<std::shared_ptr<Node>> kids;
};

namespace {

using NodeP = std::shared_ptr<FailIf::Node>;
using Node = FailIf::Node;

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  StatusOr<NodeP> Run(std::vector<std::string>* fields) {
    fields_ = fields;
    auto n = Or();
    if (!n.ok()) return n;
    Skip();
    if (i_ < s_.size()) return Err("unexpected '" + s_.substr(i_, 12) + "'");
    return n;
  }

 private:
  Status Err(const std::string& what) const {
    return InvalidArgumentError("--fail-if '" + s_ + "': at position " + std::to_string(i_ + 1) + ": " + what +
                                " (e.g. --fail-if 'severity in [high, critical] or pass == false')");
  }
  void Skip() { while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_; }
  bool Word(const char* w) {  // a keyword, not a prefix of a longer name
    Skip();
    const size_t n = std::char_traits<char>::length(w);
    if (s_.compare(i_, n, w) != 0) return false;
    if (i_ + n < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_ + n])) || s_[i_ + n] == '_')) return false;
    i_ += n;
    return true;
  }
  bool Sym(const char* sym) {
    Skip();
    const size_t n = std::char_traits<char>::length(sym);
    if (s_.compare(i_, n, sym) != 0) return false;
    i_ += n;
    return true;
  }
  static NodeP Make(Node::Kind k) { auto n = std::make_shared<Node>(); n->kind = k; return n; }
  StatusOr<NodeP> Binary(Node::Kind k, const char* word, StatusOr<NodeP> (Parser::*next)()) {
    ASSIGN_OR_RETURN(NodeP left, (this->*next)());
    while (Word(word)) {
      ASSIGN_OR_RETURN(NodeP right, (this->*next)());
      NodeP n = Make(k);
      n->kids = {left, right};
      left = n;
    }
    return left;
  }
  StatusOr<NodeP> Or() { return Binary(Node::kOr, "or", &Parser::And); }
  StatusOr<NodeP> And() { return Binary(Node::kAnd, "and", &Parser::Unary); }
  StatusOr<NodeP> Unary() {
    if (Word("not")) {
      ASSIGN_OR_RETURN(NodeP k, Unary());
      NodeP n = Make(Node::kNot);
      n->kids = {k};
      return n;
    }
    return Compare();
  }
  StatusOr<NodeP> Compare() {
    ASSIGN_OR_RETURN(NodeP left, Value(false));
    for (const char* op : {"==", "!=", "<=", ">=", "<", ">"}) {
      if (!Sym(op)) continue;
      ASSIGN_OR_RETURN(NodeP right, Value(false));
      NodeP n = Make(Node::kCmp);
      n->op = op;
      n->kids = {left, right};
      return n;
    }
    const size_t save = i_;
    const bool neg = Word("not");
    if (Word("in")) {
      ASSIGN_OR_RETURN(NodeP list, List());
      NodeP n = Make(Node::kIn);
      n->op = neg ? "not in" : "in";
      n->kids = {left, list};
      return n;
    }
    i_ = save;
    return left;
  }
  StatusOr<NodeP> List() {
    if (!Sym("[")) return Err("expected '[' to start a list");
    NodeP n = Make(Node::kList);
    if (Sym("]")) return n;
    do {
      ASSIGN_OR_RETURN(NodeP v, Value(true));
      n->kids.push_back(v);
    } while (Sym(","));
    if (!Sym("]")) return Err("expected ',' or ']' in the list");
    return n;
  }
  StatusOr<NodeP> Value(bool in_list);
  StatusOr<std::string> Name() {
    Skip();
    const size_t a = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' || s_[i_] == '-')) ++i_;
    if (a == i_ || std::isdigit(static_cast<unsigned char>(s_[a]))) return Err("expected a field name, value or '('");
    return s_.substr(a, i_ - a);
  }

  const std::string& s_;
  size_t i_ = 0;
  std::vector<std::string>* fields_ = nullptr;
};

StatusOr<NodeP> Parser::Value(bool in_list) {
  Skip();
  if (i_ >= s_.size()) return Err("expression ends early");
  const char c = s_[i_];
  if (c == '(' && !in_list) {
    ++i_;
    ASSIGN_OR_RETURN(NodeP e, Or());
    if (!Sym(")")) return Err("expected ')'");
    return e;
  }
  NodeP n = Make(Node::kLit);
  if (c == '"' || c == '\'') {
    const size_t end = s_.find(c, i_ + 1);
    if (end == std::string::npos) return Err("unterminated string");
    n->lit = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return n;
  }
  if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.') {
    size_t used = 0;
    try {
      n->lit = std::stod(s_.substr(i_), &used);
    } catch (...) {
      return Err("bad number");
    }
    i_ += used;
    return n;
  }
  if (Word("true")) return n->lit = true, n;
  if (Word("false")) return n->lit = false, n;
  if (Word("null")) return n->lit = nullptr, n;
  ASSIGN_OR_RETURN(std::string name, Name());
  if (in_list) return n->lit = name, n;  // [high, critical]: words are strings
  n->kind = Node::kPath;
  n->path.push_back(name);
  if (fields_) fields_->push_back(name);
  for (;;) {
    if (Sym(".")) {
      ASSIGN_OR_RETURN(std::string sub, Name());
      n->path.push_back(sub);
    } else if (Sym("[")) {
      Skip();
      size_t a = i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (a == i_ || !Sym("]")) return Err("expected an index like [0]");
      n->path.push_back(std::stoll(s_.substr(a, i_ - a)));
    } else {
      return n;
    }
  }
}

std::string PathText(const std::vector<json>& p) {
  std::string s;
  for (const json& k : p) s += k.is_string() ? (s.empty() ? "" : ".") + k.get<std::string>() : "[" + k.dump() + "]";
  return s;
}

StatusOr<json> Eval(const Node& n, const json& v) {
  switch (n.kind) {
    case Node::kLit: return n.lit;
    case Node::kPath: {
      const json* cur = &v;
      for (const json& k : n.path) {
        if (k.is_string() && cur->is_object() && cur->contains(k.get<std::string>())) {
          cur = &(*cur)[k.get<std::string>()];
        } else if (k.is_number() && cur->is_array() && k.get<size_t>() < cur->size()) {
          cur = &(*cur)[k.get<size_t>()];
        } else {
          return InvalidArgumentError("--fail-if: the verdict has no field " + PathText(n.path) + " (verdict: " +
                                      v.dump() + ")");
        }
      }
      return *cur;
    }
    case Node::kList: {
      json a = json::array();
      for (const auto& k : n.kids) a.push_back(k->lit);
      return a;
    }
    default: break;
  }
  std::vector<json> vals;
  for (const auto& k : n.kids) {
    ASSIGN_OR_RETURN(json x, Eval(*k, v));
    vals.push_back(std::move(x));
  }
  auto need_bool = [&](const json& x, const char* op) -> Status {
    if (x.is_boolean()) return OkStatus();
    return InvalidArgumentError(std::string("--fail-if: '") + op + "' needs true/false, got " + x.dump());
  };
  switch (n.kind) {
    case Node::kNot: RETURN_IF_ERROR(need_bool(vals[0], "not")); return json(!vals[0].get<bool>());
    case Node::kAnd:
    case Node::kOr: {
      const char* op = n.kind == Node::kAnd ? "and" : "or";
      RETURN_IF_ERROR(need_bool(vals[0], op));
      RETURN_IF_ERROR(need_bool(vals[1], op));
      return json(n.kind == Node::kAnd ? vals[0].get<bool>() && vals[1].get<bool>() : vals[0].get<bool>() || vals[1].get<bool>());
    }
    case Node::kIn: {
      bool hit = false;
      for (const json& x : vals[1]) hit |= x == vals[0];
      return json(n.op == "in" ? hit : !hit);
    }
    case Node::kCmp: {
      const json &a = vals[0], &b = vals[1];
      if (n.op == "==") return json(a == b);
      if (n.op == "!=") return json(a != b);
      const bool nums = a.is_number() && b.is_number(), strs = a.is_string() && b.is_string();
      if (!nums && !strs)
        return InvalidArgumentError("--fail-if: '" + n.op + "' compares numbers or strings, got " + a.dump() +
                                    " and " + b.dump());
      int c = 0;
      if (nums) c = a.get<double>() < b.get<double>() ? -1 : a.get<double>() > b.get<double>() ? 1 : 0;
      else c = a.get<std::string>().compare(b.get<std::string>());
      if (n.op == "<") return json(c < 0);
      if (n.op == "<=") return json(c <= 0);
      if (n.op == ">") return json(c > 0);
      return json(c >= 0);
    }
    default: return InternalError("--fail-if: bad node");
  }
}

}  // namespace

StatusOr<FailIf> FailIf::Parse(const std::string& text) {
  FailIf f;
  f.text_ = text;
  Parser p(text);
  ASSIGN_OR_RETURN(NodeP root, p.Run(&f.fields_));
  f.root_ = root;
  return f;
}

StatusOr<bool> FailIf::Eval(const json& verdict) const {
  ASSIGN_OR_RETURN(json r, ops::Eval(*root_, verdict));
  if (!r.is_boolean())
    return InvalidArgumentError("--fail-if '" + text_ + "' gives " + r.dump() + ", not true/false");
  return r.get<bool>();
}

}  // namespace gemrun::ops
