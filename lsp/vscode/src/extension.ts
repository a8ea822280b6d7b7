// The Skippy extension: starts `kubeskippy lsp` and connects VS Code to it.
// Everything the user sees (diagnostics, completion, hover, ...) comes from
// the server; this file only decides how to start it, which documents to send
// it, and when to start it again (settings changed, or the user asks).

import { commands, workspace, ExtensionContext, window } from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

// Starting and stopping run one after another on this chain. Two restarts
// that overlapped (a settings change while the restart command runs, say)
// would otherwise both start a client, and one server would be left running
// with nothing to stop it.
let queue: Promise<void> = Promise.resolve();

function serialized(task: () => Promise<void>): Promise<void> {
  queue = queue.then(task).catch(() => undefined);
  return queue;
}

function createClient(): { client: LanguageClient; command: string } {
  const config = workspace.getConfiguration("skippy");
  const command = config.get<string>("server.path", "kubeskippy");
  const args = ["lsp", ...config.get<string[]>("server.extraArgs", [])];

  const serverOptions: ServerOptions = {
    run: { command, args, transport: TransportKind.stdio },
    debug: {
      command,
      args,
      transport: TransportKind.stdio,
      options: { env: { ...process.env, KUBESKIPPY_LOG: "debug" } },
    },
  };

  // YAML files are sent too, for the Skippy embedded in HealingPolicy
  // manifests; the server ignores YAML that holds no HealingPolicy.
  const documentSelector = [{ scheme: "file", language: "skippy" }];
  if (config.get<boolean>("yaml.enabled", true)) {
    documentSelector.push({ scheme: "file", language: "yaml" });
  }

  const clientOptions: LanguageClientOptions = {
    documentSelector,
    outputChannelName: "Skippy",
  };
  return { client: new LanguageClient("skippy", "Skippy", serverOptions, clientOptions), command };
}

async function start(): Promise<void> {
  const created = createClient();
  client = created.client;
  try {
    await client.start();
  } catch (error) {
    window.showErrorMessage(
      `Skippy: could not start \`${created.command} lsp\` (${error}). ` +
        "Install kubeskippy or set `skippy.server.path`."
    );
  }
}

// Stops the current client (and its server) first, so at most one runs.
async function stop(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) {
    await old.stop().catch(() => undefined);
  }
}

function restart(): Promise<void> {
  return serialized(async () => {
    await stop();
    await start();
  });
}

export async function activate(context: ExtensionContext): Promise<void> {
  context.subscriptions.push(
    commands.registerCommand("skippy.restartServer", restart),
    // The server's path and arguments are read at start: a change needs a restart.
    workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("skippy")) {
        void restart();
      }
    }),
    { dispose: () => void serialized(stop) }
  );
  await serialized(start);
}

export function deactivate(): Promise<void> {
  return serialized(stop);
}
