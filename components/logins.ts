// Password hashes of mailboxes and relay users, from their secret inputs: a given passwordHash as
// is, a password through the hash cache (hashed again only when it changed). Shared by
// VirtualDomain and MailServer.
import * as pulumi from "@pulumi/pulumi";
import { cachedHash, PasswordHashCache, PasswordHashCacheEntry } from "./model/password";
import { Credential } from "./model/spec";
import { Validator } from "./model/validator";

export interface Login {
    /** The validated, lower-cased address. */
    address: string;
    /** The argument's path for error messages, e.g. "mailboxes[0]". */
    field: string;
    password?: pulumi.Input<string>;
    passwordHash?: pulumi.Input<string>;
}

export interface Hashed {
    /** Every login's hash; a Pulumi secret. */
    credentials: pulumi.Output<Credential[]>;
    /** The hashes made from passwords, with their fingerprints, for the next deployment; a secret. */
    cache: pulumi.Output<PasswordHashCache>;
}

export function hashLogins(v: Validator, logins: Login[], cache: pulumi.Input<PasswordHashCache> | undefined): Hashed {
    const previous = pulumi.output(cache);
    // Secrets are known only later: checked when they resolve (at preview too).
    const entries = logins.map((l): pulumi.Output<{ address: string; hash: string; fingerprint?: string }> =>
        l.passwordHash !== undefined
            ? pulumi.output(l.passwordHash).apply(h => ({
                  address: l.address,
                  hash: v.passwordHash(`${l.field}.passwordHash`, h),
                  fingerprint: undefined,
              }))
            : pulumi.all([l.password, previous]).apply(([p, c]) => {
                  const entry: PasswordHashCacheEntry = cachedHash(l.address, v.password(`${l.field}.password`, p), c);
                  return { address: l.address, ...entry };
              }),
    );
    const all = pulumi.all(entries);
    return {
        credentials: pulumi.secret(all.apply(list => list.map(e => ({ address: e.address, hash: e.hash })))),
        cache: pulumi.secret(
            all.apply(list =>
                Object.fromEntries(
                    list.flatMap(e =>
                        e.fingerprint ? [[e.address, { hash: e.hash, fingerprint: e.fingerprint }]] : [],
                    ),
                ),
            ),
        ),
    };
}
