// The mail server policy pack: `pulumi preview --policy-pack policy/`.
// Constructing the PolicyPack starts the analyzer's gRPC server, so it happens here only; the
// rules live in rules/ (one file each), which tests import without side effects.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

export * from "./rules";

new PolicyPack("mailserver-policies", {
    description:
        "Mail server hygiene for the mailserver components: no open relay, no AUTH without TLS, TLS 1.2+, " +
        "no secrets in clear text; advice on DKIM/DMARC and reverse DNS.",
    enforcementLevel: "advisory",
    policies,
});
