// Tokenizes a policy with the extension's TextMate grammar, as VS Code does
// (vscode-textmate on the Oniguruma regex engine), and checks the scopes of
// a few words: a bad regex or a rule that swallows a line fails here rather
// than in the editor. Usage: node out/test/grammar.js

import * as fs from "fs";
import * as path from "path";
import * as oniguruma from "vscode-oniguruma";
import * as textmate from "vscode-textmate";

const SAMPLE = `# comment with policy in it
metric queue_depth: count = promql "sum(x{namespace=\\"$namespace\\"})"
policy checkout {
  select deployments in shop where app = "checkout"
  when avg(memory_percent, 5m) > 85% for 3m then restart rolling priority 2
  when status is CrashLoopBackOff then notify "crash"
}
`;

/** [line, word, scope the word's token must have] */
const EXPECTED: [number, string, string][] = [
  [0, "policy", "comment.line.number-sign.skippy"],
  [1, "metric", "keyword.other.declaration.skippy"],
  [1, "queue_depth", "entity.name.variable.skippy"],
  [1, "count", "entity.name.type.skippy"],
  [1, "$namespace", "variable.other.placeholder.skippy"],
  [2, "checkout", "entity.name.namespace.skippy"],
  [3, "deployments", "entity.name.type.kind.skippy"],
  [4, "when", "keyword.control.skippy"],
  [4, "avg", "support.function.window.skippy"],
  [4, "85%", "constant.numeric.skippy"],
  [4, "restart", "support.function.action.skippy"],
  [5, "CrashLoopBackOff", "constant.other.reason.skippy"],
  [5, "crash", "string.quoted.double.skippy"],
];

async function main(): Promise<void> {
  const root = path.join(__dirname, "..", "..");
  const wasm = fs.readFileSync(
    path.join(root, "node_modules", "vscode-oniguruma", "release", "onig.wasm")
  );
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources: string[]) => new oniguruma.OnigScanner(sources),
      createOnigString: (text: string) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName: string) => {
      if (scopeName !== "source.skippy") {
        return null;
      }
      const file = path.join(root, "grammar", "skippy.tmLanguage.json");
      return textmate.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  const grammar = await registry.loadGrammar("source.skippy");
  if (!grammar) {
    throw new Error("the grammar does not load");
  }
  const lines = SAMPLE.split("\n");
  let state = textmate.INITIAL;
  const tokens: { line: number; text: string; scopes: string[] }[] = [];
  lines.forEach((line, i) => {
    const result = grammar.tokenizeLine(line, state);
    for (const token of result.tokens) {
      tokens.push({ line: i, text: line.slice(token.startIndex, token.endIndex), scopes: token.scopes });
    }
    state = result.ruleStack;
  });
  const failures: string[] = [];
  for (const [line, word, scope] of EXPECTED) {
    const token = tokens.find((t) => t.line === line && t.text.includes(word));
    if (!token || !token.scopes.includes(scope)) {
      failures.push(`line ${line} \`${word}\`: expected ${scope}, got ${token ? token.scopes.join(" ") : "no token"}`);
    }
  }
  if (failures.length > 0) {
    throw new Error(`grammar test failed:\n${failures.join("\n")}`);
  }
  console.log(`grammar test passed: ${EXPECTED.length} scopes`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
