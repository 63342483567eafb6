// Valkey: rspamd's state (Bayes tokens, greylisting, reputation, rate limits), reached over a unix
// socket only rspamd mounts; it has no network at all.
import { VALKEY_DATA_DIR, VALKEY_SOCKET_DIR } from "../render/rspamdShared";
import { MailServerService } from "./definition";

export const valkey: MailServerService = {
    name: "valkey",
    component: "MailServer",
    image: "A prebuilt Valkey image to use instead of building images/valkey",
    runs: s => s.spamFilter.enabled,
    // Runs as the image's valkey user, with no network at all.
    security: { user: "valkey", capabilities: [], tmpfs: ["/tmp"] },
    network: "none",
    volumes: [
        // Bayes tokens, greylisting and reputation outlive the containers, like mail and queue.
        { name: "valkey-data", path: VALKEY_DATA_DIR, kind: "data" },
        { name: "valkey-run", path: VALKEY_SOCKET_DIR, kind: "socket" },
    ],
    healthcheck: ["sh", "-c", `valkey-cli -s ${VALKEY_SOCKET_DIR}/valkey.sock ping | grep -qx PONG`],
    reload: "none: it has no configuration generations (images/valkey/valkey.conf is part of the image)",
};
