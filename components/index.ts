// The package's public API: `import { MailServer, VirtualDomain, Relayhost, DovecotImap } from "mailserver"`.
export * from "./args";
export { VirtualDomain, DnsRecord, DkimSigningKey, DkimKey } from "./virtualDomain";
export { Relayhost } from "./relayhost";
export { MailServer } from "./mailServer";
export { DovecotImap } from "./dovecotImap";
export { MailConfigError } from "./model/validator";
export type { PasswordHashCache } from "./model/password";
