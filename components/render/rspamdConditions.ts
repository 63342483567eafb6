// The Lua conditions rspamd's modules run per message (components/render/rspamd.ts writes them into
// its files): whose mail is signed (DKIM, ARC), and the From-header ownership rule of the logins.

import * as r2 from "./rspamdShared";

/**
 * The Lua condition that picks DKIM keys: whose mail is ours to sign, and for which domain.
 * - Sieve's mail (the reinject socket, which only Dovecot reaches; first, since its clients look
 *   like 127.0.0.1 to Postfix): vacation replies and rejections (null envelope sender) for their
 *   From domain; a redirect as its forwarder, for the mailbox's domain (its envelope sender), and
 *   only when its From header is not one of ours: a forged From of ours stays unsigned, and our
 *   users' own mail keeps the signature it left with.
 * - A login's mail: internet mode, only when FROM_NOT_OWNED_BY_LOGIN found its From owned.
 * - mynetworks: the operator trusts those hosts to send as our domains (mail from servers and
 *   applications without a login), by choice in the settings; mynetworks is never wider than
 *   what MailServer accepts.
 * Then the From header's domain when it is ours and the envelope agrees (or is null).
 * Nobody else's mail (outsiders on port 25) is signed. rspamd counts every loopback client as
 * local: mynetworks is recognised here by address, as the settings rule "trusted" does.
 */
export function dkimCondition(s: r2.RspamdSpec): string {
    const keys = s.signing
        .map(
            d =>
                `    [${r2.q(d.domain)}] = {\n` +
                d.keys
                    .map(
                        k =>
                            `      { selector = ${r2.q(k.selector)}, key = ${r2.q(r2.installedKey(d.domain, k.selector))} },\n`,
                    )
                    .join("") +
                "    },\n",
        )
        .join("");
    const loginCheck = s.senderOwners
        ? `    -- Its From header, checked against the login (FROM_NOT_OWNED_BY_LOGIN, local.d/rspamd.lua).
    if task:get_mempool():get_variable(${r2.q(r2.OWNED_FROM_VARIABLE)}) == nil then return false end
`
        : `    -- Relay mode: its users may send as any sender.
`;
    // rspamd runs the text as a chunk only when it starts with "return function".
    return `return function(task)
${trustedPrelude(s)}  local keys = {
${keys}  }
  local function domain_of(list)
    local d = list and list[1] and list[1].domain
    if d == nil or d == '' then return nil end
    return d:lower()
  end
  local hdom = domain_of(task:get_from('mime'))
  local edom = domain_of(task:get_from('smtp'))
  local tag = task:get_request_header('MTA-Name')
  local domain
  if tag ~= nil and tostring(tag) == ${r2.q(r2.SIEVE_MTA_TAG)} then
    if edom == nil then
      domain = hdom
    elseif not (hdom and keys[hdom]) then
      domain = edom
    end
  else
    if task:get_user() ~= nil then
${loginCheck}    elseif not trusted(task:get_from_ip()) then
      return false
    end
    if edom == nil or edom == hdom then domain = hdom end
  end
  if not domain or not keys[domain] then return false end
  local out = {}
  for _, k in ipairs(keys[domain]) do
    out[#out + 1] = { domain = domain, selector = k.selector, key = k.key }
  end
  return out
end`;
}

/**
 * local.d/rspamd.lua (internet mode): an authenticated user (587, 465) sends only with a From
 * header its login owns, by the owners Postfix checks the envelope sender against. rspamd checks
 * it because only the milter sees the header; a prefilter refuses the message (554 5.7.1) before
 * any filter runs, and its verdict is what the DKIM condition signs a login's mail on.
 */
export function fromOwnerRule(owners: Array<[string, string[]]>, delimiter: string): string {
    const table = owners
        .map(([address, logins]) => `  [${r2.q(address)}] = { ${logins.map(r2.q).join(", ")} },\n`)
        .join("");
    return `${r2.HEADER.replace(/^#/gm, "--")}
local owners = {
${table}}
local delimiter = ${r2.q(delimiter)}

-- The logins that own an address; user+tag@domain belongs to whoever owns user@domain, as in
-- Postfix's lookup of the envelope sender.
local function owners_of(address)
  local found = owners[address]
  if found or delimiter == "" then return found end
  local user, domain = address:match("^(.*)@([^@]*)$")
  local cut = user and user:find(delimiter, 1, true)
  if not cut then return nil end
  return owners[user:sub(1, cut - 1) .. "@" .. domain]
end

local function owned(address, login)
  for _, owner in ipairs(owners_of(address) or {}) do
    if owner == login then return true end
  end
  return false
end

rspamd_config:register_symbol({
  name = ${r2.q(r2.FROM_OWNER_SYMBOL)},
  type = "prefilter",
  -- Before every other prefilter (settings: 10; EMAIL_PLUS_ALIASES: 11, which replaces the From
  -- list by its first address without +tag), so it sees every address of the header as written.
  priority = 12,
  -- Runs whatever symbols the settings enable: only an explicit symbols_disabled stops it.
  flags = "explicit_disable",
  callback = function(task)
    local login = task:get_user()
    if login == nil then return end
    login = login:lower()
    local function refuse(why)
      task:set_pre_result("reject", why, "mailserver")
    end
    -- One From header, every address of it owned: receivers (DMARC) judge the message by it.
    local headers = task:get_header_full("From") or {}
    if #headers ~= 1 then
      return refuse(string.format("A message from %s needs exactly one From header (found %d)", login, #headers))
    end
    local from = task:get_from("mime") or {}
    if #from == 0 then
      return refuse(string.format("The From header of %s's message has no address", login))
    end
    for _, a in ipairs(from) do
      local address = (a.addr or ""):lower()
      if not owned(address, login) then
        return refuse(string.format("From header <%s> is not owned by %s", address, login))
      end
    end
    task:get_mempool():set_variable(${r2.q(r2.OWNED_FROM_VARIABLE)}, login)
  end,
})
`;
}

/** trusted(ip): whether the client is in mynetworks. */
function trustedPrelude(s: r2.RspamdSpec): string {
    const nets = s.trustedNetworks
        .map(n => {
            const [address, bits] = n.split("/");
            return `{ ${r2.q(address)}, ${bits ?? (address.includes(":") ? 128 : 32)} }`;
        })
        .join(", ");
    return `  local rspamd_ip = require "rspamd_ip"
  local networks = { ${nets} }
  local function trusted(ip)
    if ip == nil or not ip:is_valid() then return false end
    for _, n in ipairs(networks) do
      local net = rspamd_ip.from_string(n[1])
      if net:get_version() == ip:get_version()
          and tostring(ip:apply_mask(n[2])) == tostring(net:apply_mask(n[2])) then
        return true
      end
    end
    return false
  end
`;
}

/**
 * ARC: inbound mail (not ours to DKIM-sign) to one of our domains is sealed with that domain's RSA
 * key. Mail from logins and mynetworks is ours, not received from elsewhere: nothing to seal (its
 * seal cost two RSA signatures, about 4 ms of a core per message); Sieve's mail, which reaches
 * Postfix from 127.0.0.1 too, is recognised by its tag and sealed as before.
 */
export function arcCondition(s: r2.RspamdSpec): string {
    const keys = s.signing
        .map(d => {
            const rsa = d.keys.find(k => k.algorithm === "rsa");
            return rsa
                ? `    [${r2.q(d.domain)}] = { selector = ${r2.q(rsa.selector)}, key = ${r2.q(r2.installedKey(d.domain, rsa.selector))} },\n`
                : "";
        })
        .join("");
    return `return function(task)
${trustedPrelude(s)}  local keys = {
${keys}  }
  if task:get_user() ~= nil then return false end
  local tag = task:get_request_header('MTA-Name')
  local sieve = tag ~= nil and tostring(tag) == ${r2.q(r2.SIEVE_MTA_TAG)}
  if not sieve and trusted(task:get_from_ip()) then return false end
  local rcpt = task:get_recipients('smtp')
  local d = rcpt and rcpt[1] and rcpt[1].domain
  if d == nil then return false end
  local k = keys[d:lower()]
  if not k then return false end
  return { domain = d:lower(), selector = k.selector, key = k.key }
end`;
}
