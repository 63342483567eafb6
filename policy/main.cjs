// The policy pack's entry point (package.json "main"): `pulumi preview --policy-pack <this folder>`
// loads it through @pulumi/pulumi's run-policy-pack, which registers ts-node first. In this
// repository the TypeScript sources beside it are the pack; the npm package ships no TypeScript,
// only this folder's three files and the compiled pack in ../bin/policy.
const fs = require("fs");
const path = require("path");

module.exports = fs.existsSync(path.join(module.path, "index.ts"))
    ? require("./index.ts")
    : require("../bin/policy/index.js");
