#!/usr/bin/env node
// Prints its version with --version, else a greeting naming the user it runs as.
const { version } = require("../package.json");
if (process.argv[2] === "--version") {
  console.log(`greet ${version}`);
} else {
  console.log(`hello from greet ${version}, running as ${require("os").userInfo().username}`);
}
