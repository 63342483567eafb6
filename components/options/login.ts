// A login's secret, for mailboxes and relay users alike: a password, or a hash made elsewhere.
import type { Input } from "@pulumi/pulumi";
import { passthrough } from "./declare";

const secretString = (doc: string) =>
    passthrough<Input<string>, { doc: string }>("pulumi.Input<string>", { type: "string", secret: true }, { doc });

/** password and passwordHash; validateVirtualDomain and validateMailServer demand exactly one. */
export const LOGIN_OPTIONS = {
    password: secretString(
        "A Pulumi secret of at least 12 characters; only a SHA512-CRYPT hash of it is deployed (or give passwordHash)",
    ),
    passwordHash: secretString(
        "Instead of password: a crypt(3) hash made elsewhere, e.g. `mkpasswd -m yescrypt` (yescrypt, SHA512-CRYPT " +
            "with 5000+ rounds, or bcrypt cost 10+); nothing is hashed at preview",
    ),
};
