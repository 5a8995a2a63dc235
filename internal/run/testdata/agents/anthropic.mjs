// The Node Anthropic SDK against aigw's Anthropic endpoint (plain and streamed). Prints one JSON object.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.env.AIGW_URL, apiKey: 'unused', maxRetries: 0, timeout: 20000 });
const model = process.env.MODEL;
const msg = await client.messages.create({ model, max_tokens: 256, messages: [{ role: 'user', content: 'Say hello' }] });
const stream = client.messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: 'Say hello' }] });
const final = await stream.finalMessage();
const text = (m) => m.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
console.log(JSON.stringify({ text: text(msg), streamed: text(final), usage: msg.usage.output_tokens }));
