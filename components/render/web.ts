// The well-known HTTPS endpoint (MailServer wellKnown): nginx's configuration and the files it
// serves for each VirtualDomain with wellKnown set: its MTA-STS policy (RFC 8461) at
// https://mta-sts.<domain>/.well-known/mta-sts.txt and Thunderbird's autoconfig file at
// https://autoconfig.<domain>/mail/config-v1.1.xml. Anything else is a 404. Pure.
import type { CertificateSpec } from "../model/certificate";
import { WebDomain, wellKnownHosts } from "../model/dns";
import { renderMtaStsPolicy } from "./dns";
import { renderProbe } from "./probe";
import { publicFile, RenderedFile } from "../model/spec";

export interface WebSpec {
    port: number;
    /** The address nginx binds; undefined: every IPv4 and IPv6 address. */
    address?: string;
    /** Where nginx finds the server certificate (model/certificate.ts). */
    certificate: CertificateSpec;
    domains: WebDomain[];
}

/** Where the config volume is mounted in the web container. */
export const WEB_CONFIG_DIR = "/config/current";
/** Where the image keeps nginx's temporary directories (read-only root: never written for GET). */
export const WEB_TEMP_DIR = "/var/lib/nginx";

const AUTOCONFIG_PATHS = ["/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"];

function xml(s: string): string {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * Thunderbird's autoconfig file (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat):
 * the domain's clientPorts, as its SRV records publish them; implicit TLS first (RFC 8314), a
 * port of 0 left out. The login is the whole address.
 */
export function renderAutoconfig(d: WebDomain): string {
    const server = (tag: string, type: string, port: number, socket: string) =>
        port === 0
            ? []
            : [
                  `    <${tag} type="${type}">`,
                  `      <hostname>${xml(d.clientHost)}</hostname>`,
                  `      <port>${port}</port>`,
                  `      <socketType>${socket}</socketType>`,
                  "      <authentication>password-cleartext</authentication>",
                  "      <username>%EMAILADDRESS%</username>",
                  `    </${tag}>`,
              ];
    const p = d.clientPorts;
    const name = xml(d.domain);
    return [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<clientConfig version="1.1">',
        `  <emailProvider id="${name}">`,
        `    <domain>${name}</domain>`,
        `    <displayName>${name}</displayName>`,
        `    <displayShortName>${name}</displayShortName>`,
        ...server("incomingServer", "imap", p.imaps, "SSL"),
        ...server("incomingServer", "imap", p.imap, "STARTTLS"),
        ...server("incomingServer", "pop3", p.pop3s, "SSL"),
        ...server("incomingServer", "pop3", p.pop3, "STARTTLS"),
        ...server("outgoingServer", "smtp", p.submissions, "SSL"),
        ...server("outgoingServer", "smtp", p.submission, "STARTTLS"),
        "  </emailProvider>",
        "</clientConfig>",
        "",
    ].join("\n");
}

/** The files of one domain under www/<domain>/. */
function domainDir(domain: string): string {
    return `${WEB_CONFIG_DIR}/www/${domain}`;
}

/** An exact location serving one file with a fixed content type; only GET (and HEAD). */
function fileLocation(path: string, file: string, contentType: string): string[] {
    return [
        `        location = ${path} {`,
        "            limit_except GET { deny all; }",
        `            default_type ${contentType};`,
        `            alias ${file};`,
        "        }",
    ];
}

function listenLines(s: WebSpec, extra = ""): string[] {
    const at = (a: string) => (a.includes(":") ? `[${a}]` : a);
    const lines =
        s.address !== undefined
            ? [`listen ${at(s.address)}:${s.port} ssl${extra};`]
            : [`listen ${s.port} ssl${extra};`, `listen [::]:${s.port} ssl${extra};`];
    return lines.map(l => `        ${l}`);
}

/** nginx.conf: one server per host name, a default server answering 404 to any other name. */
export function renderNginxConf(s: WebSpec): string {
    const servers = s.domains.flatMap(d => {
        const [mtaSts, autoconfig] = wellKnownHosts(d.domain);
        const dir = domainDir(d.domain);
        return [
            "",
            "    server {",
            ...listenLines(s),
            `        server_name ${mtaSts};`,
            // RFC 8461 section 3.3: served as text/plain, and nothing else under this name.
            ...fileLocation("/.well-known/mta-sts.txt", `${dir}/mta-sts.txt`, "text/plain"),
            "        location / { return 404; }",
            "    }",
            "",
            "    server {",
            ...listenLines(s),
            `        server_name ${autoconfig};`,
            ...AUTOCONFIG_PATHS.flatMap(p => fileLocation(p, `${dir}/config-v1.1.xml`, "application/xml")),
            "        location / { return 404; }",
            "    }",
        ];
    });
    return [
        "# Rendered by mailserver (components/render/web.ts); the config job installs it.",
        // The image's temporary directories belong to www-data (images/web/Dockerfile).
        "user www-data;",
        "worker_processes 1;",
        "pid /run/nginx/nginx.pid;",
        "error_log stderr warn;",
        "",
        "events {",
        "    worker_connections 256;",
        "}",
        "",
        "http {",
        "    server_tokens off;",
        // The healthcheck's request (images/web/service.sh) every 15 s would bury the real ones.
        "    map $host $logged { healthcheck.invalid 0; default 1; }",
        "    access_log /dev/stdout combined if=$logged;",
        "    types { }",
        "    default_type application/octet-stream;",
        // Requests here are GETs of small files: nothing is buffered to disk.
        "    client_max_body_size 1k;",
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
            t => `    ${t}_temp_path ${WEB_TEMP_DIR}/${t.replace("client_body", "body")};`,
        ),
        `    ssl_certificate ${s.certificate.dir}/cert.pem;`,
        `    ssl_certificate_key ${s.certificate.dir}/key.pem;`,
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_prefer_server_ciphers off;",
        "    ssl_session_cache shared:TLS:1m;",
        "    ssl_session_tickets off;",
        "",
        "    # Any other host name: 404.",
        "    server {",
        ...listenLines(s, " default_server"),
        '        server_name "";',
        "        return 404;",
        "    }",
        ...servers,
        "}",
        "",
    ].join("\n");
}

/** Every file of the web container's config volume but the certificate pair (MailServer adds it). */
export function renderWebFiles(s: WebSpec): RenderedFile[] {
    const probe = s.address === undefined || ["0.0.0.0", "::"].includes(s.address) ? "127.0.0.1" : s.address;
    return [
        publicFile("nginx.conf", renderNginxConf(s)),
        // The healthcheck's own TLS probe (images/web/service.sh), not the common greeting probe.
        renderProbe(undefined),
        publicFile("https-probe", `address=${probe}\nport=${s.port}\n`),
        ...s.domains.flatMap(d => [
            publicFile(`www/${d.domain}/mta-sts.txt`, renderMtaStsPolicy(d.mtaSts.mode, d.mxHosts, d.mtaSts.maxAge)),
            publicFile(`www/${d.domain}/config-v1.1.xml`, renderAutoconfig(d)),
        ]),
    ];
}
