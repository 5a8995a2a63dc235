// A Node MCP client that works briefly and leaves the way the TypeScript SDK does: close()
// ends its streams but sends no DELETE, so the bridge sees an idle session, not an ended one.
// Usage: node idle.mjs URL. Prints {"session": ..., "pid": ...} as one JSON line.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const client = new Client({ name: "aigw-idle-test", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(process.argv[2]));
await client.connect(transport);
const session = transport.sessionId;
const pid = (await client.callTool({ name: "pid", arguments: {} })).content[0].text;
await client.close();
console.log(JSON.stringify({ session, pid }));
process.exit(0);
