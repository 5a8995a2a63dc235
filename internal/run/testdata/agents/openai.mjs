// The Node openai SDK against aigw: Responses (plain and streamed), Chat Completions, embeddings
// and models.retrieve. Prints one JSON object with what the SDK returned.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.AIGW_URL + '/v1', apiKey: 'unused', maxRetries: 0, timeout: 20000 });
const model = process.env.MODEL;
const out = {};

const res = await client.responses.create({ model, input: 'Say hello' });
out.responses = res.output_text;
out.responsesUsage = res.usage?.output_tokens ?? 0;

let streamed = '';
const stream = await client.responses.create({ model, input: 'Say hello', stream: true });
for await (const ev of stream) {
  if (ev.type === 'response.output_text.delta') streamed += ev.delta;
  if (ev.type === 'response.completed') out.streamCompleted = true;
}
out.responsesStream = streamed;

const chat = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say hello' }] });
out.chat = chat.choices[0].message.content;

if (process.env.EMBED_MODEL) {
  const emb = await client.embeddings.create({ model: process.env.EMBED_MODEL, input: 'hello' });
  out.embeddingLength = emb.data[0].embedding.length;
  const m = await client.models.retrieve(process.env.EMBED_MODEL);
  out.retrieved = m.id;
  try {
    await client.models.retrieve('no-such-model-anywhere');
  } catch (err) {
    out.retrieveMissing = err.status;
  }
}
console.log(JSON.stringify(out));
