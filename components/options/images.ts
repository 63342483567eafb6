// The container images' options (MailServer and DovecotImap images): one per service of the
// registry (components/services), and the settings of the builds from images/.
import type { Input } from "@pulumi/pulumi";
import { SERVICES } from "../services";
import { passthrough } from "./declare";

const imageRef = (doc: string) =>
    passthrough<Input<string>, { doc: string }>("pulumi.Input<string>", { type: "string" }, { doc });

export const IMAGE_OPTIONS = {
    ...Object.fromEntries(SERVICES.map(s => [s.name, imageRef(s.image)])),
    baseImage: { ...imageRef("Base image of the builds"), defaultText: '`"debian:trixie-slim"`' },
    buildNetworkMode: imageRef('Docker build network mode, e.g. "host" where the default bridge has no route out'),
};
