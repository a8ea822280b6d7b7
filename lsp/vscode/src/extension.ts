// The Skippy extension: starts `kubeskippy lsp` and connects VS Code to it.
// Everything the user sees (diagnostics, completion, hover, ...) comes from
// the server; this file only decides how to start it and which documents to
// send it.

import { workspace, ExtensionContext, window } from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

export async function activate(context: ExtensionContext): Promise<void> {
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

  client = new LanguageClient("skippy", "Skippy", serverOptions, clientOptions);
  try {
    await client.start();
  } catch (error) {
    window.showErrorMessage(
      `Skippy: could not start \`${command} lsp\` (${error}). ` +
        "Install kubeskippy or set `skippy.server.path`."
    );
  }
  context.subscriptions.push(client);
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
  }
}
