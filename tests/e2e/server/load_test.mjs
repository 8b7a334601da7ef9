// Load test with the official openai client: C concurrent clients x R requests each, half of
// them streamed; every request must succeed and every stream must end with a finish_reason.
// Also a throughput mode: N concurrent streams of exactly T tokens vs one stream.
// Usage: node load_test.mjs load BASE_URL KEY CLIENTS REQUESTS MAX_TOKENS
//        node load_test.mjs throughput BASE_URL KEY STREAMS TOKENS [ROUNDS]
import OpenAI from "openai";

const [mode, base, key, a, b, c] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 300_000 });
const model = (await client.models.list()).data[0].id;

async function one(i, j, maxTokens) {
  const messages = [{ role: "user", content: `client ${i} request ${j}: say something` }];
  if ((i + j) % 2 === 0) {
    const r = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0.8, seed: i * 100 + j });
    if (!r.choices[0].finish_reason) throw new Error("no finish_reason");
    return { tokens: r.usage.completion_tokens, stream: false };
  }
  const s = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0.8, seed: i * 100 + j,
                                                   stream: true, stream_options: { include_usage: true } });
  let finish = null, usage = null;
  for await (const ch of s) {
    if (ch.usage) usage = ch.usage;
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  if (!finish || !usage) throw new Error(`incomplete stream (finish ${finish}, usage ${!!usage})`);
  return { tokens: usage.completion_tokens, stream: true };
}

async function load(clients, requests, maxTokens) {
  const t0 = performance.now();
  let ok = 0, failed = 0, streams = 0, tokens = 0;
  const errors = [];
  await Promise.all(Array.from({ length: clients }, async (_, i) => {
    for (let j = 0; j < requests; j++) {
      try {
        const r = await one(i, j, maxTokens);
        ok++;
        tokens += r.tokens;
        if (r.stream) streams++;
      } catch (e) {
        failed++;
        if (errors.length < 5) errors.push(String(e));
      }
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ clients, requests: clients * requests, ok, failed, complete_streams: streams, tokens,
                               seconds: +secs.toFixed(2), errors }));
  return failed === 0;
}

// Aggregate generation speed of N concurrent streams vs one stream. Rounds alternate single
// and multi runs so that load from other processes hits both alike; medians are reported.
async function throughput(streams, tokens, rounds = 5) {
  const run = async (n) => {
    const t0 = performance.now();
    const counts = await Promise.all(Array.from({ length: n }, async (_, i) => {
      const s = await client.completions.create({ model, prompt: `stream ${i}`, max_tokens: tokens, temperature: 0.8, seed: i,
                                                  stream: true, stream_options: { include_usage: true } });
      let usage = null;
      for await (const ch of s) if (ch.usage) usage = ch.usage;
      return usage.completion_tokens;
    }));
    const secs = (performance.now() - t0) / 1000;
    return counts.reduce((x, y) => x + y, 0) / secs;
  };
  const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
  await run(1);  // warm-up
  const single = [], multi = [];
  for (let r = 0; r < rounds; r++) {
    single.push(await run(1));
    multi.push(await run(streams));
  }
  const s = median(single), m = median(multi);
  console.log(JSON.stringify({ streams, tokens_per_stream: tokens, rounds,
                               single_tok_per_s: single.map((x) => +x.toFixed(2)), multi_tok_per_s: multi.map((x) => +x.toFixed(2)),
                               median_single: +s.toFixed(2), median_multi: +m.toFixed(2), speedup: +(m / s).toFixed(2) }));
  return true;
}

const ok = mode === "throughput" ? await throughput(+a, +b, +(c ?? 5)) : await load(+a, +b, +c);
process.exit(ok ? 0 : 1);
