// Lint: ESLint's and typescript-eslint's recommended rules; layout is Prettier's job (.prettierrc.json).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    {
        ignores: [
            "bin/**",
            "node_modules/**",
            "test/.artifacts/**",
            "test/.venv/**",
            ".local/**",
            "engine/**",
            "bench/.results/**",
        ],
    },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    // CommonJS scripts (the policy pack's entry point, policy/main.cjs).
    { files: ["**/*.cjs"], languageOptions: { globals: { require: "readonly", module: "readonly" } } },
    {
        rules: {
            // Unused arguments named _x are deliberate (callbacks with a fixed signature).
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
            // Tests and the engine glue handle untyped JSON and Pulumi internals.
            "@typescript-eslint/no-explicit-any": "off",
            // index.ts's `export =` and the policy analyzer's dynamic loading need require().
            "@typescript-eslint/no-require-imports": "off",
            // Prettier keeps code within 120 columns but leaves comments and long strings alone.
            "max-len": [
                "error",
                {
                    code: 120,
                    ignoreStrings: true,
                    ignoreTemplateLiterals: true,
                    ignoreRegExpLiterals: true,
                    ignoreUrls: true,
                },
            ],
        },
    },
);
