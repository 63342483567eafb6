// The package's public API: `import { MailServer, VirtualDomain, Relayhost, DovecotImap } from "mailserver"`.
export { VirtualDomain, VirtualDomainArgs, MailboxArgs, AliasArgs, ForwardArgs, DnsRecord, VacationArgs, FileIntoArgs } from "./virtualDomain";
export { Relayhost, RelayhostArgs } from "./relayhost";
export { MailServer, MailServerArgs, MailServerPorts, TransportArgs, RelayUserArgs } from "./mailServer";
export { DovecotImap, DovecotImapArgs, DovecotPorts, VacationLimits } from "./dovecotImap";
export { TlsArgs } from "./tls";
export { ImageArgs } from "./internal/docker";
export { MailConfigError } from "./validate";
