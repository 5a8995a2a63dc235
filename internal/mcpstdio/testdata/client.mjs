// A Node MCP client (@modelcontextprotocol/sdk, streamable HTTP or HTTP+SSE) used by
// node_test.go. Usage: node client.mjs URL TRANSPORT(streamable|sse) TAG
// It exercises the surface the test server offers and prints one JSON line of results.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import {
  CreateMessageRequestSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const [url, kind, tag] = process.argv.slice(2);
const client = new Client({ name: "aigw-node-test", version: "1.0.0" }, { capabilities: { sampling: {} } });
let listChanged = 0;
client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
  role: "assistant",
  model: "node-model",
  content: { type: "text", text: "node says " + req.params.messages[0].content.text },
}));
client.setNotificationHandler(ToolListChangedNotificationSchema, async () => { listChanged++; });

const transport = kind === "sse" ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);
const out = { server: client.getServerVersion()?.name, protocol: transport.protocolVersion ?? null };
const text = (r) => r.content[0].text;

out.tools = (await client.listTools()).tools.length;
out.echo = [];
for (let i = 0; i < 5; i++) {
  out.echo.push(text(await client.callTool({ name: "echo", arguments: { text: `${tag}-${i}` } })));
}
const progress = [];
out.slow = text(await client.callTool({ name: "slow", arguments: { steps: 3, delayMs: 5 } }, undefined, {
  onprogress: (p) => progress.push(p.progress),
}));
out.progress = progress;
out.sample = text(await client.callTool({ name: "sample", arguments: { text: tag } }));
out.resource = (await client.readResource({ uri: "test://static/hello" })).contents[0].text;
out.prompt = (await client.getPrompt({ name: "greet", arguments: { name: tag } })).messages[0].content.text;
await client.callTool({ name: "add_tool", arguments: { name: `node_${tag}` } });
for (let i = 0; i < 100 && listChanged === 0; i++) await new Promise((r) => setTimeout(r, 20));
out.listChanged = listChanged > 0;
await client.close();
console.log(JSON.stringify(out));
// Idle keep-alive sockets would hold the process open for seconds.
process.exit(0);
