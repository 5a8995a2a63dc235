// The MCP TypeScript SDK client against an aigw MCP route protected by OAuth: without a token
// it cannot connect (the error and the WWW-Authenticate challenge are reported); with one it
// lists the tools and calls an allowed and a denied one. Prints one JSON object.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = new URL(process.env.MCP_URL);
const out = {};

// No token: the 401 and its challenge, as a client without credentials sees them.
const raw = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
});
out.status = raw.status;
out.challenge = raw.headers.get('www-authenticate');
try {
  const c = new Client({ name: 'no-token', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(url));
  out.connectedWithoutToken = true;
  await c.close();
} catch (e) {
  out.errorWithoutToken = String(e && e.message || e);
}

// A token: tools/list and tools/call.
const client = new Client({ name: 'with-token', version: '1' });
await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: 'Bearer ' + process.env.MCP_TOKEN } } }));
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const echo = await client.callTool({ name: 'alpha__echo', arguments: { text: 'hi' } });
out.echo = echo.content[0].text;
try {
  await client.callTool({ name: 'alpha__hidden', arguments: { text: 'x' } });
  out.hidden = 'allowed';
} catch (e) {
  out.hidden = String(e && e.message || e);
}
await client.close();
console.log(JSON.stringify(out));
