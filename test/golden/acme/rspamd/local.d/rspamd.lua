-- Rendered by the mailserver package (components/render/rspamd.ts). Do not edit here:
-- every deploy replaces this file. Change the component's arguments instead.

local owners = {
  ["postmaster@example.com"] = { "postmaster@example.com" },
  ["alice@example.com"] = { "alice@example.com" },
  ["abuse@example.com"] = { "postmaster@example.com" },
}
local delimiter = "+"

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
  name = "FROM_NOT_OWNED_BY_LOGIN",
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
    task:get_mempool():set_variable("mailserver_owned_from", login)
  end,
})
