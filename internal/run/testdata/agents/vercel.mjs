// Vercel's AI SDK against aigw: the default OpenAI provider (Responses API) and .chat (Chat
// Completions), with no max tokens set. Prints one JSON object.
import { generateText } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';

const openai = createOpenAI({ baseURL: process.env.AIGW_URL + '/v1', apiKey: 'unused' });
const model = process.env.MODEL;
const responses = await generateText({ model: openai(model), prompt: 'Say hello', maxRetries: 0 });
const chat = await generateText({ model: openai.chat(model), prompt: 'Say hello', maxRetries: 0 });
console.log(JSON.stringify({ responses: responses.text, chat: chat.text, usage: responses.usage.outputTokens ?? 0 }));
