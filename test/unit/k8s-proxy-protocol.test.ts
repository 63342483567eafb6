// The PROXY protocol on Kubernetes: pods are bridged, so the Docker-only rules (host mode, Postfix
// listening on no public address) give way to a NetworkPolicy admitting only trustedNetworks to
// the PROXY listeners (asserted here: the test cluster stores policies without enforcing them);
// the rules that still make sense (networks given, not too wide, not in mynetworks) still apply.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { MailServerArgs } from "../../components/args";
import type { MailServerSettings } from "../../components/model/settings";
import { Validator } from "../../components/model/validator";
import { validateDovecot } from "../../components/options/dovecotImap";
import { applyKubernetes } from "../../components/options/kubernetes";
import { validateMailServer } from "../../components/options/validateMailServer";
import { validateDomain } from "../../components/options/validateVirtualDomain";
import { dovecotPolicy, mailServerPolicies, proxiedPorts } from "../../components/platform/kubernetes/objects";
import { fakeMailServer, refused } from "./fixtures";

const SELECTOR = (group: string) => ({
    "app.kubernetes.io/part-of": "mailserver",
    "app.kubernetes.io/instance": "t",
    "app.kubernetes.io/component": group,
});
const IMAGES = { postfix: "p:1", rspamd: "r:1", valkey: "v:1", dovecot: "d:1", authpolicy: "a:1" };
const K8S = { namespace: "mail" };
const domain = validateDomain(new Validator("VirtualDomain t"), {
    domain: "example.com",
    mailboxes: [{ address: "alice", password: "a-long-enough-password" }],
});
/** On the cluster behind a balancer whose connections arrive from 10.46.0.1. */
const BEHIND_BALANCER = {
    hostname: "mail.example.com",
    domains: [{ spec: domain }],
    images: IMAGES,
    kubernetes: K8S,
    outboundTls: { mtaSts: false },
    proxyProtocol: { listeners: ["smtp", "submission", "smtps"], trustedNetworks: ["10.46.0.1/32"] },
};
function server(args: Record<string, unknown> = {}): MailServerSettings {
    const v = new Validator("MailServer t");
    const all = { ...BEHIND_BALANCER, ...args } as unknown as MailServerArgs;
    return applyKubernetes(v, validateMailServer(v, "t", all), all.kubernetes, IMAGES);
}
function dovecot(args: Record<string, unknown>, settings = server()) {
    const mailServer = fakeMailServer(settings);
    return validateDovecot(new Validator("DovecotImap store"), { mailServer, images: IMAGES, ...args } as never);
}

describe("PROXY protocol on Kubernetes: preview", () => {
    test("bridged pods, Postfix on all addresses: accepted when kubernetes is set, for both components", () => {
        const s = server();
        assert.equal(s.placement.networkMode, "bridge");
        assert.deepEqual(s.postfix.proxyListeners, ["smtp", "submission", "smtps"]);
        const d = dovecot({ proxyProtocol: { listeners: ["imaps"] } }, s);
        assert.deepEqual(d.proxyProtocol, { listeners: ["imaps"], trustedNetworks: ["10.46.0.1/32"] });
    });
    test("without kubernetes, bridge mode is still refused (the Docker rule)", () => {
        const v = new Validator("MailServer t");
        const docker = { ...BEHIND_BALANCER, kubernetes: undefined, images: undefined, publishAddress: "10.0.0.5" };
        refused(
            () => validateMailServer(v, "t", docker as unknown as MailServerArgs),
            "MailServer t",
            "proxyProtocol.listeners",
            '["smtp","submission","smtps"]',
            /expected networkMode "host".*on Kubernetes, with kubernetes set, a NetworkPolicy/,
        );
    });
    test("the rules that still apply: networks given, not too wide, not in mynetworks; a listener that is on", () => {
        refused(
            () => server({ proxyProtocol: { listeners: ["smtp"] } }),
            "MailServer t",
            "proxyProtocol.trustedNetworks",
            "[]",
            /expected the networks the balancer connects from/,
        );
        refused(
            () => server({ proxyProtocol: { listeners: ["smtp"], trustedNetworks: ["10.0.0.0/8"] } }),
            "MailServer t",
            "proxyProtocol.trustedNetworks[0]",
            '"10.0.0.0/8"',
            /private networks no wider than/,
        );
        refused(
            () => server({ mynetworks: ["127.0.0.0/8", "10.46.0.0/24"] }),
            "MailServer t",
            "proxyProtocol.trustedNetworks[0]",
            '"10.46.0.1/32"',
            /expected no overlap with mynetworks \(10\.46\.0\.0\/24\)/,
        );
        refused(
            () => dovecot({ ports: { pop3: 0 }, proxyProtocol: { listeners: ["pop3"] } }),
            "DovecotImap store",
            "proxyProtocol.listeners[0]",
            '"pop3"',
            /expected a listener that is on: ports\.pop3 is 0/,
        );
    });
});

describe("PROXY protocol on Kubernetes: the NetworkPolicies", () => {
    const tcp = { lmtpPort: 24, authPort: 12345, valkeyPort: 6379 };
    const tcpPorts = (...ports: number[]) => ports.map(port => ({ protocol: "TCP", port }));
    const ports = { smtp: 25, submission: 587, smtps: 465 };
    test("a component's PROXY listeners become the ports its policy guards", () => {
        const trustedNetworks = ["10.46.0.1/32"];
        assert.deepEqual(proxiedPorts({ listeners: ["smtp", "smtps"], trustedNetworks }, ports), {
            ports: [25, 465],
            trustedNetworks,
        });
        assert.equal(proxiedPorts(undefined, ports), undefined);
    });
    test("Postfix: the PROXY ports from the trusted networks only (ipBlock), the others from anywhere", () => {
        const proxy = { ports: [25, 465], trustedNetworks: ["10.46.0.1/32", "2001:db8::5/128"] };
        const [p] = mailServerPolicies("t", "mail", ports, true, tcp, proxy);
        assert.deepEqual(p.spec.ingress, [
            { ports: tcpPorts(587) },
            {
                from: [{ ipBlock: { cidr: "10.46.0.1/32" } }, { ipBlock: { cidr: "2001:db8::5/128" } }],
                ports: tcpPorts(25, 465),
            },
        ]);
    });
    test("Postfix: every port proxied leaves no rule open to anywhere (an empty port list would admit all)", () => {
        const proxy = { ports: [25, 587, 465], trustedNetworks: ["10.46.0.1/32"] };
        const [p] = mailServerPolicies("t", "mail", ports, false, tcp, proxy);
        assert.deepEqual(p.spec.ingress, [
            { from: [{ ipBlock: { cidr: "10.46.0.1/32" } }], ports: tcpPorts(25, 587, 465) },
        ]);
        const [off] = mailServerPolicies("t", "mail", { smtp: 25, submission: 0, smtps: 0 }, false, tcp, proxy);
        assert.deepEqual(off.spec.ingress, [{ from: [{ ipBlock: { cidr: "10.46.0.1/32" } }], ports: tcpPorts(25) }]);
    });
    test("Dovecot: its PROXY listener from its trusted networks, the other clients from anywhere, Postfix on LMTP", () => {
        const d = dovecotPolicy("t", "mail", [143, 993], tcp, { ports: [993], trustedNetworks: ["10.46.0.1/32"] });
        assert.deepEqual(d.spec.ingress, [
            { ports: tcpPorts(143) },
            { from: [{ ipBlock: { cidr: "10.46.0.1/32" } }], ports: tcpPorts(993) },
            { from: [{ podSelector: { matchLabels: SELECTOR("postfix") } }], ports: tcpPorts(24, 12345) },
        ]);
    });
    test("without PROXY listeners the policies are as before", () => {
        const [p] = mailServerPolicies("t", "mail", ports, true, tcp, { ports: [], trustedNetworks: [] });
        assert.deepEqual(p.spec.ingress, [{ ports: tcpPorts(25, 587, 465) }]);
        assert.deepEqual(dovecotPolicy("t", "mail", [143, 993], tcp).spec.ingress, [
            { ports: tcpPorts(143, 993) },
            { from: [{ podSelector: { matchLabels: SELECTOR("postfix") } }], ports: tcpPorts(24, 12345) },
        ]);
    });
});
