#!/usr/bin/env node
// Compile contracts/src/*.sol with the pinned solc-js and write contracts/build/<Name>.json.
//
//   node compile.js          write the artifacts
//   node compile.js --check  recompile in memory; exit 1 if any committed artifact differs
//
// Everything is offline: imports resolve from node_modules (OpenZeppelin from npm).
// The EVM version is pinned because solc's default follows the newest fork, which a
// given node may not run yet. Each artifact carries `sourceHash` (sha256 over the names
// and contents of src/*.sol) so Python can tell that artifacts are stale without node.
"use strict";

const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const solc = require("solc");

const ROOT = __dirname;
const SRC = path.join(ROOT, "src");
const BUILD = path.join(ROOT, "build");
const EVM_VERSION = "cancun";
// The contracts whose artifacts the Python side uses (ERC1967Proxy comes via src/Proxy.sol).
const WANTED = ["AgentVault", "AgentVaultV2", "AgentVaultV3", "TestToken", "MockPriceFeed", "ERC1967Proxy"];

function sourceFiles() {
  return fs.readdirSync(SRC).filter((f) => f.endsWith(".sol")).sort();
}

// Must match chain/artifacts.py:source_hash().
function sourceHash(files) {
  const h = crypto.createHash("sha256");
  for (const f of files) {
    h.update(f, "utf8");
    h.update("\0");
    h.update(fs.readFileSync(path.join(SRC, f)));
    h.update("\0");
  }
  return h.digest("hex");
}

function findImports(importPath) {
  const candidates = [path.join(SRC, importPath), path.join(ROOT, "node_modules", importPath)];
  for (const p of candidates) {
    if (fs.existsSync(p)) return { contents: fs.readFileSync(p, "utf8") };
  }
  return { error: `import not found: ${importPath} (run: npm --prefix contracts ci)` };
}

function compile() {
  const files = sourceFiles();
  const sources = {};
  for (const f of files) sources[f] = { content: fs.readFileSync(path.join(SRC, f), "utf8") };
  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) {
    // OpenZeppelin's own warnings (e.g. the EIP-1153 note on its transient reentrancy guard) are noise here
    const fromDeps = e.sourceLocation && e.sourceLocation.file.startsWith("@openzeppelin/");
    if (e.severity === "error" || !fromDeps) process.stderr.write(e.formattedMessage + "\n");
  }
  if (errors.length) process.exit(1);

  const hash = sourceHash(files);
  const artifacts = {};
  for (const [file, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (!WANTED.includes(name)) continue;
      artifacts[name] = {
        contractName: name,
        sourceName: file,
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
        sourceHash: hash,
        compiler: { solc: solc.version(), evmVersion: EVM_VERSION, optimizerRuns: 200 },
      };
    }
  }
  for (const name of WANTED) {
    if (!artifacts[name]) {
      process.stderr.write(`contract ${name} missing from the compiler output\n`);
      process.exit(1);
    }
  }
  return artifacts;
}

function serialise(artifact) {
  return JSON.stringify(artifact, null, 2) + "\n";
}

function main() {
  const check = process.argv.includes("--check");
  const artifacts = compile();
  if (check) {
    const stale = [];
    for (const [name, a] of Object.entries(artifacts)) {
      const p = path.join(BUILD, `${name}.json`);
      if (!fs.existsSync(p) || fs.readFileSync(p, "utf8") !== serialise(a)) stale.push(name);
    }
    if (stale.length) {
      process.stderr.write(`stale artifacts: ${stale.join(", ")} (run: npm --prefix contracts run build)\n`);
      process.exit(1);
    }
    process.stdout.write(`artifacts up to date (${Object.keys(artifacts).length})\n`);
    return;
  }
  fs.mkdirSync(BUILD, { recursive: true });
  for (const [name, a] of Object.entries(artifacts)) {
    fs.writeFileSync(path.join(BUILD, `${name}.json`), serialise(a));
  }
  process.stdout.write(`wrote ${Object.keys(artifacts).length} artifacts to ${BUILD}\n`);
}

main();
