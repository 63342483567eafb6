// The policies of the pack, one file each. Importing this module has no side effects: the
// PolicyPack that serves them (and starts a gRPC server) is constructed in ../index.ts only, so
// tests import from here. What the mandatory rules judge, and how an unknown value is treated:
// ../subjects.ts; reading resource properties: ../resources.ts; the configuration files: ../parse.ts.
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { noOpenRelay } from "./noOpenRelay";
import { authRequiresTls } from "./authRequiresTls";
import { tlsMinimumVersion } from "./tlsMinimumVersion";
import { noPlaintextSecrets } from "./noPlaintextSecrets";
import { secretUploads } from "./secretUploads";
import { dkimAndDmarc } from "./dkimAndDmarc";
import { dmarcReportAddress } from "./dmarcReportAddress";
import { smtpReverseDns } from "./smtpReverseDns";

// Each rule, and what its file exports for the tests (e.g. looksSecret).
export * from "./noOpenRelay";
export * from "./authRequiresTls";
export * from "./tlsMinimumVersion";
export * from "./noPlaintextSecrets";
export * from "./secretUploads";
export * from "./dkimAndDmarc";
export * from "./dmarcReportAddress";
export * from "./smtpReverseDns";

/** Every policy of the pack, in the order they are reported. */
export const policies: Array<ResourceValidationPolicy | StackValidationPolicy> = [
    noOpenRelay,
    authRequiresTls,
    tlsMinimumVersion,
    noPlaintextSecrets,
    secretUploads,
    dkimAndDmarc,
    dmarcReportAddress,
    smtpReverseDns,
];
