// The stack's own Docker network (bridge mode): every service on it reaches the others by name.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { NetworkPlacementSpec } from "../../model/settings";
import type { NetworkPlacement } from "./container";

/** Where the services run; in bridge mode a network `<prefix>-net` of their own. */
export function stackPlacement(
    parent: pulumi.Resource,
    prefix: string,
    placement: NetworkPlacementSpec,
): { placement: NetworkPlacement; network: docker.Network | undefined } {
    const network =
        placement.networkMode === "bridge"
            ? new docker.Network(`${prefix}-net`, { name: `${prefix}-net`, driver: "bridge" }, { parent })
            : undefined;
    return { placement: { ...placement, network: network?.name }, network };
}
