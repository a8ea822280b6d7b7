// A smoke test of the server through the JSON-RPC library the extension's
// client is built on: start `kubeskippy lsp`, open a policy with a typo,
// expect its diagnostic, expect formatting registered for Skippy documents
// only (the client supports dynamic registration, as VS Code's does), shut
// down, expect exit status 0. ci.sh runs it when
// the binary is built. Usage: node out/test/smoke.js PATH/TO/kubeskippy

import { spawn } from "child_process";
import * as rpc from "vscode-jsonrpc/node";

function check(condition: boolean, what: string): void {
  if (!condition) {
    throw new Error(`smoke test failed: ${what}`);
  }
}

async function main(): Promise<void> {
  const bin = process.argv[2];
  check(bin !== undefined, "usage: smoke.js PATH/TO/kubeskippy");
  const child = spawn(bin, ["lsp"], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const connection = rpc.createMessageConnection(
    new rpc.StreamMessageReader(child.stdout!),
    new rpc.StreamMessageWriter(child.stdin!)
  );
  const published = new Promise<any>((resolve) =>
    connection.onNotification("textDocument/publishDiagnostics", resolve)
  );
  const registered = new Promise<any>((resolve) =>
    connection.onRequest("client/registerCapability", (params: any) => {
      resolve(params);
      return null;
    })
  );
  connection.listen();

  const init: any = await connection.sendRequest("initialize", {
    processId: process.pid,
    rootUri: null,
    capabilities: { textDocument: { formatting: { dynamicRegistration: true } } },
  });
  check(
    init.capabilities.documentFormattingProvider === undefined,
    "formatting is not announced for every document"
  );
  check(init.serverInfo?.name === "kubeskippy", `serverInfo ${JSON.stringify(init.serverInfo)}`);
  await connection.sendNotification("initialized", {});
  const registration = (await registered).registrations[0];
  check(
    registration.method === "textDocument/formatting" &&
      JSON.stringify(registration.registerOptions.documentSelector).includes('"skippy"') &&
      !JSON.stringify(registration.registerOptions.documentSelector).includes("yaml"),
    `formatting registration ${JSON.stringify(registration)}`
  );
  await connection.sendNotification("textDocument/didOpen", {
    textDocument: {
      uri: "file:///smoke.skippy",
      languageId: "skippy",
      version: 1,
      text: "policy p {\n  select pods\n  when memory_precent > 90 then restart\n}\n",
    },
  });
  const diagnostics = await published;
  const codes = diagnostics.diagnostics.map((d: any) => d.code);
  check(codes.includes("E0101"), `diagnostics ${JSON.stringify(codes)}`);

  await connection.sendRequest("shutdown");
  await connection.sendNotification("exit");
  const status = await exited;
  check(status === 0, `exit status ${status}`);
  connection.dispose();
  console.log(`smoke test passed: ${bin} lsp answered with ${codes.join(", ")}`);
}

setTimeout(() => {
  console.error("smoke test failed: no answer within 20 s");
  process.exit(1);
}, 20_000).unref();

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
