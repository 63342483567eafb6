// The plugin program of the mailserver component provider. @pulumi/pulumi's run-plugin requires
// this folder and, since it exports a function rather than component classes, calls it; it starts
// the provider (main.ts). run-plugin is what the Node.js language host runs for PulumiPlugin.yaml,
// and what the pulumi-resource-mailserver launcher next to this file runs where there is none.
/* global require, module, __dirname, process */
const fs = require("fs");
const path = require("path");

/** A checkout runs its TypeScript sources through tsx (as the tests do); an installed package its compiled bin/. */
function entry() {
    const source = path.join(__dirname, "main.ts");
    if (fs.existsSync(source) && fs.existsSync(path.join(__dirname, "..", "components", "index.ts"))) {
        let tsx;
        try {
            tsx = require("tsx/cjs/api");
        } catch {
            tsx = undefined; // sources without the repository's devDependencies: the compiled files
        }
        if (tsx) {
            tsx.register();
            return source;
        }
    }
    const compiled = path.join(__dirname, "..", "bin", "provider", "main.js");
    if (!fs.existsSync(compiled))
        throw new Error(`mailserver provider: ${compiled} is missing; build the package (npm run build)`);
    return compiled;
}

module.exports = function () {
    // process.argv is [node, run-plugin, ...the engine's arguments].
    return require(entry()).main(process.argv.slice(2));
};
