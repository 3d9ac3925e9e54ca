//! What a failure *is*: the `Kind` (stored in the outbox by a stable code), its `Severity`, the
//! exit codes, and `Described` (a kind with the server's reply and the detail, as kept and shown).
//! A leaf: it knows no error type of the core (`classify::classify` turns errors into kinds), so
//! the outbox, the engine and the window can use it without reaching into the send path. No
//! wording here, no I/O.

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// How a failure should be treated by whoever asked for the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Try again later by itself: offline, 4xx, mailbox in use, relay still refused.
    Temporary,
    /// Will not get better without the user: wrong password, untrusted certificate, bad setup.
    NeedsUser,
    /// This message can never be delivered as it is: unknown recipient, too large.
    Permanent,
}

/// Exit codes (sysexits where one fits).
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_TEMPORARY: u8 = 75;

macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident = $code:literal, $severity:ident;)*) => {
        /// What a failure is. Stored in the outbox by `code` (stable text; never reworded).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($(#[$doc])* $kind,)*
        }

        impl Kind {
            pub const ALL: &[Kind] = &[$(Kind::$kind,)*];

            /// The stable name kept in the outbox.
            pub fn code(self) -> &'static str {
                match self {
                    $(Kind::$kind => $code,)*
                }
            }

            pub fn severity(self) -> Severity {
                match self {
                    $(Kind::$kind => Severity::$severity,)*
                }
            }
        }
    };
}

kinds! {
    /// The host name does not resolve: offline, or a typo.
    NameNotFound = "name-not-found", Temporary;
    /// Nothing listens on that port.
    ConnectionRefused = "connection-refused", Temporary;
    /// No route or no answer to the connection: offline, most often.
    Offline = "offline", Temporary;
    /// SMTP port 25 does not answer: the provider's outbound block (OP25B), most often.
    Port25Blocked = "port25", Temporary;
    /// The SMTP server has no address in the family (IPv4/IPv6) the POP login used.
    FamilyMismatch = "family-mismatch", Temporary;
    /// The certificate is not trusted (or the extra CA file cannot be used).
    Certificate = "certificate", NeedsUser;
    /// TLS could not start: the port does not speak TLS.
    TlsHandshake = "tls-handshake", NeedsUser;
    /// Connected, but a step got no answer in time.
    Timeout = "timeout", Temporary;
    /// The server said something that is not POP3/SMTP, or closed the connection.
    Protocol = "protocol", Temporary;
    /// The connection broke while the message was on its way.
    Dropped = "dropped", Temporary;
    WrongPassword = "wrong-password", NeedsUser;
    MailboxBusy = "mailbox-busy", Temporary;
    LoginDelay = "login-delay", Temporary;
    PopTemporary = "pop-temporary", Temporary;
    /// The POP server refuses this account (`[SYS/PERM]`).
    PopRefused = "pop-refused", NeedsUser;
    /// A line break or NUL in the user name or password.
    CredentialText = "credential-text", NeedsUser;
    /// STLS/STARTTLS was chosen and the server does not offer it.
    StartTls = "stls", NeedsUser;
    /// Only a cleartext password would do, and the settings do not allow it.
    Cleartext = "cleartext", NeedsUser;
    /// The server does not offer or refused the login method: not a wrong password.
    MethodRefused = "method-refused", NeedsUser;
    /// APOP refused where nothing else is allowed: a wrong password, or no APOP secret.
    ApopRefused = "apop-refused", NeedsUser;
    /// APOP asked for, and the server offers none (or an unusable timestamp).
    ApopUnusable = "apop", NeedsUser;
    /// The SMTP server would not relay after the POP login.
    RelayDenied = "relay-denied", Temporary;
    SmtpAuthNotOffered = "smtp-auth", NeedsUser;
    /// `530`: the server wants SMTP AUTH (receiving first will not help).
    SmtpAuthRequired = "smtp-auth-required", NeedsUser;
    /// `530 … Must issue a STARTTLS command first` (RFC 3207): the server wants the connection
    /// encrypted before anything else; not SMTP AUTH.
    SmtpStartTlsRequired = "smtp-starttls-required", NeedsUser;
    SmtpCleartext = "smtp-cleartext", NeedsUser;
    SmtpTemporary = "smtp-temporary", Temporary;
    /// The SMTP server refuses the connection or the login (5xx before any message).
    SmtpRefused = "smtp-refused", NeedsUser;
    Recipient = "recipient", Permanent;
    /// The server refused this message (sender, content, DATA).
    MessageRefused = "refused", Permanent;
    TooLarge = "too-large", Permanent;
    /// popsend cannot put this message on this server's wire (nothing was refused).
    Unsendable = "unsendable", Permanent;
    /// Queued for more than five days.
    Expired = "expired", Permanent;
    /// The outbox row cannot be read back as a message (its envelope or a field is damaged):
    /// set aside as failed, its bytes kept.
    Damaged = "damaged", Permanent;
    /// A temporary failure recorded by an older popsend, in no finer kind.
    Temporary = "temporary", Temporary;
    /// A settings problem recorded by an older popsend, in no finer kind.
    Setup = "setup", NeedsUser;
    /// The outbox cannot be read or written (disk full, read-only file, locked).
    Outbox = "outbox", NeedsUser;
    /// The config file cannot be used.
    Config = "config", NeedsUser;
    /// No password could be found.
    NoPassword = "no-password", NeedsUser;
    /// The message cannot be built (address, header, attachment).
    Compose = "compose", NeedsUser;
    /// ISO-2022-JP was chosen and the message holds characters outside it.
    Unencodable = "unencodable", NeedsUser;
}

impl Kind {
    /// The kind stored as `code`. A code this version does not know (a newer popsend wrote it)
    /// reads as `Temporary`: the row stays readable and is tried again.
    pub fn from_code(code: &str) -> Kind {
        Kind::ALL.iter().copied().find(|k| k.code() == code).unwrap_or(Kind::Temporary)
    }

    /// A network change (or the server answering again) may cure it at once.
    pub fn network_may_cure(self) -> bool {
        matches!(
            self,
            Kind::NameNotFound
                | Kind::ConnectionRefused
                | Kind::Offline
                | Kind::Port25Blocked
                | Kind::FamilyMismatch
                | Kind::RelayDenied
        )
    }

    /// The server could not be reached at all: another address family may do better.
    pub fn unreachable(self) -> bool {
        matches!(self, Kind::NameNotFound | Kind::ConnectionRefused | Kind::Offline | Kind::Port25Blocked)
    }

    /// The exit code of a command that stopped on it.
    pub fn exit_code(self) -> u8 {
        match (self, self.severity()) {
            (Kind::Config | Kind::Compose | Kind::Unencodable, _) => EXIT_USAGE,
            (_, Severity::Temporary) => EXIT_TEMPORARY,
            _ => EXIT_FAILED,
        }
    }

    /// A login refusal: nothing logs in again by itself (it could lock the account).
    pub fn refused_login(self) -> bool {
        matches!(self, Kind::WrongPassword | Kind::ApopRefused)
    }
}

impl ToSql for Kind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.code()))
    }
}

impl FromSql for Kind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Kind> {
        value.as_str().map(Kind::from_code)
    }
}

/// A failure as it is kept and shown: its kind, the server's own reply (when it gave one) and
/// the technical detail (English). Stored with a message in the outbox; carried to the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub kind: Kind,
    pub reply: Option<String>,
    pub detail: String,
}

impl Described {
    /// A failure popsend decides itself (no server, no error value).
    pub fn local(kind: Kind, detail: impl Into<String>) -> Described {
        Described { kind, reply: None, detail: detail.into() }
    }
}
