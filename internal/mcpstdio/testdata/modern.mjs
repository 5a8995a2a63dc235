// A 2026-07-28 MCP client (the TypeScript SDK v2, @modelcontextprotocol/client, as the MCP
// Inspector uses it in modern mode) used by node_test.go. It pins the revision, so every
// result it accepts passed the SDK's own 2026-07-28 checks (resultType, cache hints).
// Usage: node modern.mjs URL TAG. Prints one JSON line of results.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const [url, tag] = process.argv.slice(2);
const client = new Client(
  { name: "aigw-modern-test", version: "1.0.0" },
  { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: "2026-07-28" } } },
);
client.setRequestHandler("sampling/createMessage", async (req) => ({
  model: "modern-model",
  role: "assistant",
  content: { type: "text", text: "modern says " + req.params.messages[0].content.text },
}));
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const text = (r) => r.content[0].text;
const out = { protocol: client.getNegotiatedProtocolVersion() ?? null, server: client.getServerVersion()?.name ?? null };
out.tools = (await client.listTools()).tools.length;
out.echo = text(await client.callTool({ name: "echo", arguments: { text: tag } }));
out.sample = text(await client.callTool({ name: "sample", arguments: { text: tag } }));
out.resource = (await client.readResource({ uri: "test://static/hello" })).contents[0].text;
out.prompt = (await client.getPrompt({ name: "greet", arguments: { name: tag } })).messages[0].content.text;
await client.close();
console.log(JSON.stringify(out));
process.exit(0);
