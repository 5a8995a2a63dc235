// LangChain's ChatOpenAI against aigw, with and without useResponsesApi. Prints one JSON object.
import { ChatOpenAI } from '@langchain/openai';

const out = {};
for (const useResponsesApi of [false, true]) {
  const llm = new ChatOpenAI({
    model: process.env.MODEL,
    apiKey: 'unused',
    configuration: { baseURL: process.env.AIGW_URL + '/v1' },
    maxRetries: 0,
    useResponsesApi,
  });
  const msg = await llm.invoke('Say hello');
  out[useResponsesApi ? 'responses' : 'chat'] = msg.text;
}
console.log(JSON.stringify(out));
