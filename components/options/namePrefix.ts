// The guard on namePrefix: data volumes are named by it and kept by `pulumi destroy`, so a new
// prefix starts with new, empty volumes and leaves the mail behind. The previous deployment's
// prefix (MailServer's namePrefix output, given back as previousNamePrefix) makes a change visible
// at preview, where it is refused unless allowNamePrefixChange says it is meant.
import { Validator } from "../model/validator";
import { boolean, text } from "./declare";

export const NAME_PREFIX_GUARD_OPTIONS = {
    previousNamePrefix: text({
        doc:
            "The namePrefix of the previous deployment (the namePrefix output; npm run stack keeps it): a different " +
            "namePrefix is refused at preview unless allowNamePrefixChange",
    }),
    allowNamePrefixChange: boolean({
        doc:
            "Accept a namePrefix other than previousNamePrefix: new, empty data volumes (mail, queue, rspamd, " +
            "Valkey, ACME) are made and the old ones are left on the Docker host",
        default: false,
    }),
};

/** Refuses a prefix change that would orphan the data volumes, unless it is allowed. */
export function checkNamePrefix(
    v: Validator,
    prefix: string,
    previous: string | undefined,
    allowed: boolean,
    dataVolumes: string[],
): void {
    if (previous === undefined || previous === prefix || allowed) return;
    const names = dataVolumes.map(n => `${previous}-${n}`).join(", ");
    v.fail(
        "namePrefix",
        prefix,
        `expected "${previous}", the prefix of the deployed stack: its data volumes (${names}) are named by it, and a new ` +
            "prefix would start with new, empty volumes and leave the mail in those; keep the prefix, or set " +
            "allowNamePrefixChange: true to start anew (the old volumes stay until you remove them)",
    );
}
