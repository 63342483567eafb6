# Rendered by the mailserver package (components/render/dovecot.ts).
# rspamd adds "X-Spam: Yes" at MailServer spamFilter.addHeaderScore: such mail goes to Junk, and
# no other rule (vacation replies, forwards, filing) acts on it.
require ["fileinto"];
if header :is "X-Spam" "Yes" {
  fileinto "Junk";
  stop;
}
