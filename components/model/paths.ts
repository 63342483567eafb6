// Where things are inside the containers: shared by the renderers, the service definitions and
// the images' scripts (which write the same paths).

/** Paths shared by the renderers, the images' scripts and the components. */
export const paths = {
    /** The config volume, as the service containers see it; "current" links the active generation. */
    config: "/config/current",
    /** Where the config job finds the files it was given. */
    staging: "/staging",
    lmtpSocketDir: "/run/lmtp",
    lmtpSocket: "/run/lmtp/lmtp",
    /**
     * Where Dovecot hands Sieve's mail (redirects, vacation replies, rejections) to Postfix: a
     * directory of the LMTP volume, which only the two containers mount, and Postfix's smtpd
     * socket in it (master.cf's REINJECT_SERVICE; images/postfix/service.sh makes the link).
     */
    reinjectDir: "/run/lmtp/reinject",
    reinjectSocket: "/run/lmtp/reinject/smtp",
    /**
     * Internet mode: Dovecot's auth service for Postfix's SMTP AUTH (smtpd_sasl_type = dovecot), on
     * the volume only the two share, so every login of every protocol passes one auth service.
     */
    dovecotAuthSocket: "/run/lmtp/auth",
    /** The brute-force policy service's socket, on a volume only it and Dovecot mount. */
    authPolicyDir: "/run/authpolicy",
    authPolicySocket: "/run/authpolicy/policy.sock",
    saslauthdDir: "/run/saslauthd",
    mailRoot: "/var/mail/vhosts",
    postfixQueue: "/var/spool/postfix",
    /**
     * tls.acme: the certs volume (read-only in the services), where the ACME container installs
     * each new pair as a directory and renames "current" over to it (images/acme/acme).
     */
    acmeCerts: "/certs/current",
} as const;
