// A program of its own, written against the installed npm package the way a user of it writes one:
// a shop's stack, with its own Docker network and its own application container, that adds our
// mail server and sends its order confirmations through our submission port. Compiled and
// deployed by test/live/consumer.test.ts in a project outside the repository.
import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DovecotImap, MailServer, VirtualDomain } from "mailserver";

interface Ports {
    smtp: number;
    submission: number;
    smtps: number;
    imap: number;
    imaps: number;
    managesieve: number;
}

export = async () => {
    const config = new pulumi.Config();
    const prefix = config.require("namePrefix");
    const ports = config.requireObject<Ports>("ports");
    // The application's SMTP login and the support desk's mailbox password: the shop's own secrets.
    const appPassword = config.requireSecret("appPassword");
    const deskPassword = config.requireSecret("deskPassword");
    const subject = config.require("orderSubject");

    const shop = new VirtualDomain("shop.test", {
        domain: "shop.test",
        mailboxes: [{ address: "orders", password: appPassword }],
        mxHosts: ["mail.shop.test"],
    });
    const support = new VirtualDomain("support.test", {
        domain: "support.test",
        mailboxes: [{ address: "desk", password: deskPassword }],
        aliases: [{ address: "help", targets: ["desk@support.test"] }],
        mxHosts: ["mail.shop.test"],
    });
    // Bridge mode: the mail server's own network, its ports published on loopback only.
    const mail = new MailServer("mail", {
        hostname: "mail.shop.test",
        domains: [shop, support],
        namePrefix: prefix,
        networkMode: "bridge",
        publishAddress: "127.0.0.1",
        inetProtocols: "ipv4",
        ports: { smtp: ports.smtp, submission: ports.submission, smtps: ports.smtps },
        // No DNS reaches this engine's bridge networks: said so, rspamd signs and scores without
        // waiting out lookups, and Postfix looks no client name up.
        dns: "none",
        images: { buildNetworkMode: "host" },
    });
    const imap = new DovecotImap("imap", {
        mailServer: mail,
        ports: { imap: ports.imap, imaps: ports.imaps, managesieve: ports.managesieve },
        images: { buildNetworkMode: "host" },
    });

    // The shop's own network and application: a container that sends one order confirmation through
    // the submission port (STARTTLS, the server's certificate verified, AUTH with the app's secret).
    const appNetwork = new docker.Network("app-net", { name: `${prefix}-app`, driver: "bridge" });
    const appImage = new docker.RemoteImage("app-image", {
        name: `${prefix}-app:latest`,
        keepLocally: true,
        build: { context: path.join(__dirname, "app"), networkMode: "host" },
    });
    // swaks reads its options from a file, so the password is in no command line, environment or log.
    const swaksrc = pulumi.interpolate`server ${mail.postfixContainerName}:${ports.submission}
tls
tls-verify
tls-ca-path /etc/app/mail-ca.pem
tls-verify-target mail.shop.test
auth PLAIN
auth-user orders@shop.test
auth-password ${appPassword}
auth-hide-password
from orders@shop.test
to help@support.test
header Subject: ${subject}
body Your order has shipped.
`;
    const app = new docker.Container(
        "app",
        {
            name: `${prefix}-app`,
            image: appImage.imageId,
            command: ["swaks", "--config", "/etc/app/swaksrc"],
            networksAdvanced: [{ name: appNetwork.name }, { name: mail.networkName.apply(n => n ?? "") }],
            uploads: [
                { file: "/etc/app/swaksrc", content: pulumi.secret(swaksrc) },
                { file: "/etc/app/mail-ca.pem", content: mail.certificatePem.apply(pem => pem ?? "") },
            ],
            attach: true,
            mustRun: false,
            restart: "no",
            // Labelled like the mail server's containers, so one filter lists the whole stack.
            labels: [{ label: "mailserver.stack", value: prefix }],
        },
        { dependsOn: [mail, imap] },
    );
    const appExitCode = app.exitCode.apply(code => {
        if (code !== undefined && code !== null && code !== 0)
            throw new Error(
                `the application could not send its mail (exit ${code}); see \`docker logs ${prefix}-app\``,
            );
        return code ?? 0;
    });

    return {
        appExitCode,
        postfixContainer: mail.postfixContainerName,
        imapContainer: imap.containerName,
        mailNetwork: mail.networkName,
        certificatePem: mail.certificatePem,
        dnsRecords: pulumi.all([shop.dnsRecords, support.dnsRecords]).apply(r => r.flat()),
    };
};
