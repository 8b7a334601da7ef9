// The official openai client against `gemrun serve`: models, chat and completions (plain and
// streaming), usage numbers, stop sequences, seeds, logprobs, prefix reuse, and error cases.
// Usage: node client_test.mjs BASE_URL API_KEY
//        node client_test.mjs BASE_URL API_KEY --vision IMAGE EXPECTED_TEXT_FILE PROMPT
// The second form (a server started with --mmproj and --allow-image-urls) runs the image tests
// only: a data: URL image part, and the same image served over http from this process, must
// give, greedily, EXPECTED (what `gemrun run --image IMAGE -p PROMPT` printed).
import OpenAI from "openai";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const [base, key, mode, imagePath, expectedFile, visionPrompt] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 60_000 });
const user = (content) => [{ role: "user", content }];
let passed = 0, failed = 0;

async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

async function expectError(fn, status, check) {
  try {
    await fn();
  } catch (e) {
    assert.equal(e.status, status, `status ${e.status}: ${e.message}`);
    if (check) check(e);
    return;
  }
  assert.fail(`expected HTTP ${status}`);
}

function checkUsage(u) {
  assert.ok(u.prompt_tokens > 0, "prompt_tokens");
  assert.ok(u.completion_tokens >= 0, "completion_tokens");
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
}

if (mode === "--vision") {
  await visionTests();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

async function visionTests() {
  const png = readFileSync(imagePath);
  const dataUrl = `data:image/png;base64,${png.toString("base64")}`;
  const expected = readFileSync(expectedFile, "utf8");
  const model = (await client.models.list()).data[0].id;
  const ask = (url, extra = {}) => client.chat.completions.create({
    model, max_tokens: 16, temperature: 0, ...extra,
    messages: [{ role: "user", content: [{ type: "image_url", image_url: { url, detail: "auto" } },
                                         { type: "text", text: visionPrompt }] }] });
  let first;
  await test("vision: an image part gives the same greedy answer as gemrun run --image", async () => {
    first = await ask(dataUrl);
    assert.equal(first.choices[0].message.content, expected);
    assert.ok(first.usage.prompt_tokens > 100, `prompt_tokens ${first.usage.prompt_tokens} should count image rows`);
  });
  await test("vision: streaming gives the same text", async () => {
    const s = await ask(dataUrl, { stream: true });
    let text = "";
    for await (const c of s) text += c.choices[0]?.delta.content ?? "";
    assert.equal(text, expected);
  });
  await test("vision: the same request again reuses only the text before the image", async () => {
    const again = await ask(dataUrl);
    assert.equal(again.choices[0].message.content, expected);
    assert.ok(again.usage.prompt_tokens_details.cached_tokens < 20, `cached ${again.usage.prompt_tokens_details.cached_tokens}`);
  });
  await test("vision: a truncated PNG is a 400 naming the field", () =>
    expectError(() => ask(`data:image/png;base64,${png.subarray(0, png.length >> 1).toString("base64")}`), 400, (e) => {
      assert.equal(e.param, "messages[0].content[0].image_url.url");
      assert.match(e.message, /truncated PNG/);
    }));
  await test("vision: not an image is a 400", () =>
    expectError(() => ask(`data:image/png;base64,${Buffer.from("GIF89a not really").toString("base64")}`), 400,
                (e) => assert.equal(e.param, "messages[0].content[0].image_url.url")));
  await test("vision: bad base64 is a 400", () =>
    expectError(() => ask("data:image/png;base64,%%%"), 400, (e) => assert.equal(e.code, "invalid_base64")));
  // The image over http from this process (the server was started with --allow-image-urls).
  const web = createServer((req, res) => {
    if (req.url === "/cat.png") res.writeHead(200, { "Content-Type": "image/png" }).end(png);
    else if (req.url === "/moved") res.writeHead(302, { Location: "/cat.png" }).end();
    else res.writeHead(404).end("no");
  });
  await new Promise((ok) => web.listen(0, "127.0.0.1", ok));
  const webBase = `http://127.0.0.1:${web.address().port}`;
  await test("vision: an http image URL (and a redirect to it) gives the same answer", async () => {
    assert.equal((await ask(`${webBase}/cat.png`)).choices[0].message.content, expected);
    assert.equal((await ask(`${webBase}/moved`)).choices[0].message.content, expected);
  });
  // The client learns only that the fetch failed (the status goes to the server log).
  await test("vision: a URL answering 404 is a 400 naming the field, without the status", () =>
    expectError(() => ask(`${webBase}/missing.png`), 400, (e) => {
      assert.equal(e.param, "messages[0].content[0].image_url.url");
      assert.match(e.message, /image fetch failed/);
      assert.doesNotMatch(e.message, /404/);
    }));
  await test("vision: an ftp URL is refused even with --allow-image-urls", () =>
    expectError(() => ask("ftp://127.0.0.1/cat.png"), 400, (e) => assert.equal(e.param, "messages[0].content[0].image_url.url")));
  web.close();
  await test("vision: a bad detail value is a 400", () =>
    expectError(() => client.chat.completions.create({ model, max_tokens: 2, messages: [{ role: "user", content: [
      { type: "image_url", image_url: { url: dataUrl, detail: "max" } }] }] }), 400,
                (e) => assert.equal(e.param, "messages[0].content[0].image_url.detail")));
  await test("vision: still serving after the bad images", async () => {
    const r = await ask(dataUrl);
    assert.equal(r.choices[0].message.content, expected);
  });
}

let modelId;
await test("models.list", async () => {
  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  modelId = models.data[0].id;
  assert.ok(modelId.length > 0);
});

let greedy;
await test("chat non-streaming: text, usage, finish_reason", async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: user("Tell me a story"), max_tokens: 12, temperature: 0 });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(["length", "stop"].includes(r.choices[0].finish_reason));
  checkUsage(r.usage);
  assert.ok(r.usage.completion_tokens <= 12);
  if (r.choices[0].finish_reason === "length") assert.equal(r.usage.completion_tokens, 12);
  greedy = r;
});

await test("chat greedy is deterministic; seeds reproduce sampling", async () => {
  const again = await client.chat.completions.create({ model: modelId, messages: user("Tell me a story"), max_tokens: 12, temperature: 0 });
  assert.equal(again.choices[0].message.content, greedy.choices[0].message.content);
  const a = await client.chat.completions.create({ model: modelId, messages: user("Hi"), max_tokens: 10, temperature: 1, seed: 7 });
  const b = await client.chat.completions.create({ model: modelId, messages: user("Hi"), max_tokens: 10, temperature: 1, seed: 7 });
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
});

await test("chat streaming with include_usage equals the non-streamed text", async () => {
  const stream = await client.chat.completions.create({ model: modelId, messages: user("Tell me a story"), max_tokens: 12,
                                                        temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = "", finish = null, usage = null, chunks = 0, role = null;
  for await (const c of stream) {
    chunks++;
    assert.equal(c.object, "chat.completion.chunk");
    if (c.usage) usage = c.usage;
    if (!c.choices.length) continue;
    role ??= c.choices[0].delta.role;
    text += c.choices[0].delta.content ?? "";
    finish = c.choices[0].finish_reason ?? finish;
  }
  assert.equal(role, "assistant");
  assert.ok(chunks >= 3);
  assert.equal(text, greedy.choices[0].message.content);
  assert.equal(finish, greedy.choices[0].finish_reason);
  assert.ok(usage, "usage chunk");
  checkUsage(usage);
  assert.equal(usage.completion_tokens, greedy.usage.completion_tokens);
  assert.equal(usage.prompt_tokens, greedy.usage.prompt_tokens);
});

await test("stop sequences cut the text and report finish_reason stop", async () => {
  const full = greedy.choices[0].message.content;
  const chars = [...full];
  let stop = null;
  for (let i = 2; i + 2 <= chars.length && !stop; i++) {
    const s = chars.slice(i, i + 2).join("");
    if (!s.includes("\uFFFD") && s.trim().length === 2) stop = s;
  }
  assert.ok(stop, `no usable stop string in ${JSON.stringify(full)}`);
  const want = full.slice(0, full.indexOf(stop));
  const r = await client.chat.completions.create({ model: modelId, messages: user("Tell me a story"), max_tokens: 12, temperature: 0, stop: [stop] });
  assert.equal(r.choices[0].message.content, want);
  assert.equal(r.choices[0].finish_reason, "stop");
  const s = await client.chat.completions.create({ model: modelId, messages: user("Tell me a story"), max_tokens: 12, temperature: 0, stop, stream: true });
  let text = "", finish = null;
  for await (const c of s) { text += c.choices[0]?.delta.content ?? ""; finish = c.choices[0]?.finish_reason ?? finish; }
  assert.equal(text, want);
  assert.equal(finish, "stop");
});

await test("logprobs and top_logprobs", async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: user("Hi"), max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3 });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, r.usage.completion_tokens);
  for (const t of lp) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    assert.ok(Array.isArray(t.bytes));
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[2].logprob);
    assert.ok(Math.abs(t.logprob - t.top_logprobs[0].logprob) < 1e-4, "greedy picks the top token");
  }
});

await test("penalties and max_completion_tokens are accepted", async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: user("Hi"), max_completion_tokens: 4,
                                                   presence_penalty: 1, frequency_penalty: 0.5, top_p: 0.9, temperature: 0.7 });
  assert.ok(r.usage.completion_tokens <= 4);
});

await test("multi-turn chat reuses the cached prefix", async () => {
  const history = [{ role: "system", content: "You are terse." }, { role: "user", content: "First question, a long one about many things" }];
  const a = await client.chat.completions.create({ model: modelId, messages: history, max_tokens: 6, temperature: 0 });
  history.push({ role: "assistant", content: a.choices[0].message.content }, { role: "user", content: "And a follow-up" });
  const b = await client.chat.completions.create({ model: modelId, messages: history, max_tokens: 6, temperature: 0 });
  assert.ok(b.usage.prompt_tokens > a.usage.prompt_tokens);
  assert.ok(b.usage.prompt_tokens_details.cached_tokens >= a.usage.prompt_tokens - 8,
            `cached ${b.usage.prompt_tokens_details.cached_tokens} of ${a.usage.prompt_tokens}`);
});

await test("completions plain and streaming", async () => {
  const r = await client.completions.create({ model: modelId, prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
  assert.equal(r.object, "text_completion");
  assert.equal(typeof r.choices[0].text, "string");
  checkUsage(r.usage);
  const s = await client.completions.create({ model: modelId, prompt: "Once upon a time", max_tokens: 8, temperature: 0,
                                              stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null;
  for await (const c of s) { if (c.usage) usage = c.usage; text += c.choices[0]?.text ?? ""; }
  assert.equal(text, r.choices[0].text);
  assert.equal(usage.completion_tokens, r.usage.completion_tokens);
  const d = await client.completions.create({ model: modelId, prompt: "Once", max_tokens: 3, logprobs: 2, temperature: 0 });
  assert.equal(d.choices[0].logprobs.tokens.length, d.usage.completion_tokens);
});

await test("errors: unsupported field names it", () =>
  expectError(() => client.chat.completions.create({ model: modelId, messages: user("x"), functions: [{ name: "f" }] }),
              400, (e) => { assert.equal(e.param, "functions"); assert.equal(e.code, "unsupported_parameter"); }));
await test("errors: wrong type", () =>
  expectError(() => client.chat.completions.create({ model: modelId, messages: user("x"), temperature: "hot" }), 400,
              (e) => assert.equal(e.param, "temperature")));
await test("errors: n > 1", () => expectError(() => client.chat.completions.create({ model: modelId, messages: user("x"), n: 2 }), 400));
await test("errors: bad role", () =>
  expectError(() => client.chat.completions.create({ model: modelId, messages: [{ role: "wizard", content: "x" }] }), 400));
await test("errors: prompt over the context states count and limit", () =>
  expectError(() => client.chat.completions.create({ model: modelId, messages: user("many words ".repeat(3000)) }), 400, (e) => {
    assert.equal(e.code, "context_length_exceeded");
    assert.match(e.message, /prompt is \d+ tokens but the context holds \d+/);
  }));
await test("errors: wrong API key is 401", () =>
  expectError(() => new OpenAI({ baseURL: `${base}/v1`, apiKey: "wrong", maxRetries: 0 }).models.list(), 401));

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
