// Import rules of the library, checked by `npm run lint` (dependency-cruiser). Type-only imports
// count (tsPreCompilationDeps): a cycle of types is a cycle. The layers (CONTRIBUTING.md):
// model <- options, model <- render <- services <- platform <- components on top.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
    forbidden: [
        {
            name: "no-cycle",
            comment: "No import cycle, type-only imports included.",
            severity: "error",
            from: {},
            to: { circular: true },
        },
        {
            name: "model-is-the-bottom",
            comment:
                "components/model: data types and the rules on them; it imports no other layer and no Pulumi runtime.",
            severity: "error",
            from: { path: "^components/model/" },
            to: { path: "^components/(?!model/)" },
        },
        {
            name: "render-is-pure",
            comment: "components/render: pure renderers from model types; no options, services, platform or Pulumi.",
            severity: "error",
            from: { path: "^components/render/" },
            to: { path: ["^components/(options|services|platform)/", "^components/[^/]+\\.ts$", "@pulumi/"] },
        },
        {
            name: "options-without-render",
            comment:
                "components/options: declarations and cross-option rules on model types; no renderer, no platform.",
            severity: "error",
            from: { path: "^components/options/" },
            to: { path: ["^components/(render|platform)/", "^components/[^/]+\\.ts$", "@pulumi/(docker|tls)"] },
        },
        {
            name: "services-are-platform-neutral",
            comment: "components/services: one definition per service; nothing that knows Docker, and no component.",
            severity: "error",
            from: { path: "^components/services/" },
            to: { path: ["@pulumi/docker", "^components/platform/", "^components/[^/]+\\.ts$"] },
        },
        {
            name: "only-the-platform-knows-docker",
            comment:
                "@pulumi/docker is imported by components/platform/docker and the component classes that hold its resources' types only.",
            severity: "error",
            from: { path: "^components/(?!platform/docker/|mailServer\\.ts$)" },
            to: { path: "@pulumi/docker" },
        },
    ],
    options: {
        doNotFollow: { path: "node_modules" },
        tsPreCompilationDeps: true,
        tsConfig: { fileName: "tsconfig.json" },
        exclude: { path: "^(node_modules|bin)/" },
    },
};
