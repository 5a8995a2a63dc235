// The OpenAI Agents SDK against aigw: an agent with one function tool runs its loop to the end
// (tool call, tool result, final answer). Prints one JSON object.
import OpenAI from 'openai';
import { Agent, run, tool, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled } from '@openai/agents';
import { z } from 'zod';

setTracingDisabled(true);
setDefaultOpenAIClient(new OpenAI({ baseURL: process.env.AIGW_URL + '/v1', apiKey: 'unused', maxRetries: 0, timeout: 20000 }));
setOpenAIAPI(process.env.OPENAI_API_MODE || 'responses');

let calls = 0;
const getWeather = tool({
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => {
    calls++;
    return `It is 21 degrees and sunny in ${city} (weather-marker-7731)`;
  },
});
const agent = new Agent({ name: 'Forecaster', instructions: 'Answer weather questions.', model: process.env.MODEL, tools: [getWeather] });
const result = await run(agent, 'What is the weather in Paris?', { maxTurns: 4 });
console.log(JSON.stringify({ finalOutput: result.finalOutput, toolCalls: calls }));
