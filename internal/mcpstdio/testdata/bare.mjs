// A Node MCP client (@modelcontextprotocol/sdk, 2025-11-25) that declares no capabilities,
// used by node_test.go. Usage: node bare.mjs URL TOOL ARGS_JSON
// Prints {"tools": [names...], "text": ..., "error": ...} for the one tool call, as one line.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, tool, args] = process.argv.slice(2);
const client = new Client({ name: "aigw-bare-test", version: "1.0.0" }, { capabilities: {} });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const out = { tools: (await client.listTools()).tools.map((t) => t.name).sort() };
try {
  const res = await client.callTool({ name: tool, arguments: JSON.parse(args) });
  if (res.isError) out.error = res.content?.[0]?.text ?? "tool error";
  else out.text = res.content?.[0]?.text ?? "";
} catch (e) {
  out.error = String(e?.message ?? e);
}
await client.close();
console.log(JSON.stringify(out));
process.exit(0);
