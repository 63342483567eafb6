// MailServer's settings after validation, as the service definitions and renderers read them.
// The option declarations (options/) produce them; each type here is pinned at compile time to
// the values its declaration gives (options/mailServer.ts, options/tls.ts), so the two cannot
// drift apart. Secrets (keys, DNS credentials) are Pulumi inputs: the type is all that is imported.
import type { Input } from "@pulumi/pulumi";
import type { AntivirusSettings } from "./antivirus";
import type { MonitoringSettings } from "./monitoring";
import type { BackupSettings } from "./backup";
import type { CertificateSpec } from "./certificate";
import type { WebDomain } from "./dns";
import type { OutboundTlsSettings } from "./outboundTls";
import type { KubernetesSettings } from "./kubernetes";
import type { ReportsSettings } from "./reports";
import type { PostfixSpec } from "./spec";

/** Where the services run: Docker network mode, and the host address published ports bind to. */
export interface NetworkPlacementSpec {
    networkMode: "bridge" | "host";
    publishAddress: string;
}

/** MailServer spamFilter: rspamd (with Valkey), its scores, limits and DNS. */
export interface SpamFilterSettings {
    enabled: boolean;
    rejectScore: number;
    outboundRejectScore: number;
    messagesPerHour: number;
    recipientsPerHour: number;
    addHeaderScore: number;
    greylisting: boolean;
    greylistScore: number;
    dnsbl: boolean;
    nameservers: string[];
    dnsTimeout: string;
    dnsRetransmits: number;
    scanProcesses: number;
}

/** MailServer proxyProtocol: the smtpd listeners that expect a PROXY header, and where the balancer is. */
export interface ProxyProtocolSettings {
    listeners: Array<"smtp" | "submission" | "smtps">;
    /** Dovecot's notation: "10.0.0.5/32", "2001:db8::5/128". */
    trustedNetworks: string[];
}

/** MailServer tls.acme: the ACME client's settings. */
export interface AcmeSettings {
    directory: string;
    email: string;
    names: string[];
    challenge: "http-01" | "dns-01";
    dnsProvider: string | undefined;
    dnsSettings: Record<string, string> | undefined;
    /** Secrets: each becomes a file of the ACME container, never part of its environment. */
    dnsCredentials: Record<string, Input<string>> | undefined;
    dnsResolvers: string[] | undefined;
    dnsCheckAllNameservers: boolean | undefined;
    httpPort: number;
    httpAddress: string | undefined;
    keyType: "ECDSA" | "RSA";
    renewDaysBefore: number;
    retrySeconds: number;
    caCertPem: string | undefined;
}

/** MailServer tls: exactly one way to get the certificate. */
export interface TlsSettings {
    selfSigned: { validityHours: number } | undefined;
    ca: { certPem: Input<string>; keyPem: Input<string>; validityHours: number } | undefined;
    acme: AcmeSettings | undefined;
    certPem: Input<string> | undefined;
    keyPem: Input<string> | undefined;
    keyAlgorithm: "ECDSA" | "RSA";
}

/** MailServer wellKnown: the HTTPS endpoint's port and address. */
export interface WellKnownOptionSettings {
    httpsPort: number;
    address: string | undefined;
}

/** The well-known endpoint, when a VirtualDomain has wellKnown set: its domains in the given order. */
export type WellKnownSettings = WellKnownOptionSettings & { domains: WebDomain[] };

/** The validated settings other components (DovecotImap) and the service definitions build on. */
export interface MailServerSettings {
    prefix: string;
    postfix: PostfixSpec;
    placement: NetworkPlacementSpec;
    restart: string;
    /** Relay mode's SMTP AUTH logins, lower-cased; their passwords are not part of the settings. */
    users: string[];
    tls: TlsSettings;
    /** Where the services find the server certificate: decided once (model/certificate.ts). */
    certificate: CertificateSpec;
    spamFilter: SpamFilterSettings;
    /** "none": nothing is looked up in DNS by the inbound checks (Postfix client names, rspamd). */
    dns: "available" | "none";
    /** The well-known HTTPS endpoint, when a VirtualDomain has wellKnown set. */
    wellKnown?: WellKnownSettings;
    /** ClamAV, asked by rspamd (off by default). */
    antivirus: AntivirusSettings;
    /** Metrics endpoints, and Prometheus + Alertmanager (off by default). */
    monitoring: MonitoringSettings;
    /** restic backups of the data volumes (off by default); the service runs with DovecotImap. */
    backup: BackupSettings;
    /** DANE, MTA-STS and the stack's validating resolver (Postfix's outbound deliveries). */
    outboundTls: OutboundTlsSettings;
    /** TLS-RPT and DMARC aggregate reports, sent daily. */
    reports: ReportsSettings;
    /** The PROXY protocol behind a TCP load balancer (off while listeners is empty). */
    proxyProtocol: ProxyProtocolSettings;
    /** What the component logs as warnings (obsolete options it ignores). */
    warnings: string[];
    /** Set: the services run on a Kubernetes cluster (components/platform/kubernetes), not Docker. */
    kubernetes?: KubernetesSettings;
}
