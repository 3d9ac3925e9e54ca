//! The account configuration: the TOML file's shape, its defaults, its validation and where it
//! lives. A bad file becomes a `ConfigError` naming the file, the key and the problem. This module
//! never holds a password: passwords come from `secrets`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Cleartext for the whole session.
    #[default]
    None,
    /// Cleartext greeting, then STLS (POP3) / STARTTLS (SMTP); required once chosen.
    Starttls,
    /// TLS from the first byte (POP3S 995, SMTPS 465).
    Tls,
}

impl Security {
    pub fn name(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::Starttls => "starttls",
            Security::Tls => "tls",
        }
    }
}

/// Which POP3 login the user allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PopAuth {
    #[default]
    Auto,
    Plain,
    User,
    Apop,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub account: AccountSection,
    pub pop: PopSection,
    pub smtp: SmtpSection,
    #[serde(default)]
    pub relay: RelaySection,
    #[serde(default)]
    pub tls: TlsSection,
    #[serde(default)]
    pub app: AppSection,
    #[serde(default, skip_serializing_if = "SubmissionSection::is_default")]
    pub submission: SubmissionSection,
    /// The other accounts (`[[accounts]]`, each with its own `account`, `pop`, `smtp`, `relay`
    /// and `tls` tables); the sections above are the first account, the default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<OtherAccount>,
    /// A digest of the file's text: a paused queue resumes when it changes.
    #[serde(skip)]
    pub fingerprint: String,
}

/// One more account besides the first (`[[accounts]]`): the account's own tables, as the first
/// account has them at the top of the file. The window's preferences and the submission server
/// are the file's, shared by every account.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtherAccount {
    /// The folder of the data folder's `accounts` its files are in, when it is not the one its
    /// address names: set when the address changes, so the messages waiting there stay its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    pub account: AccountSection,
    pub pop: PopSection,
    pub smtp: SmtpSection,
    #[serde(default)]
    pub relay: RelaySection,
    #[serde(default)]
    pub tls: TlsSection,
}

/// One account as the rest of popsend uses it: a whole `Config` (its own tables with the file's
/// shared ones), where its outbox and what was learned of its servers live, and its password file.
#[derive(Debug, Clone)]
pub struct Account {
    /// 0 for the first account (the default), then in the file's order.
    pub index: usize,
    pub config: Config,
    pub data_dir: PathBuf,
    pub password_file: PathBuf,
}

impl Account {
    /// What lists and menus call it: its name, or its address.
    pub fn label(&self) -> String {
        self.config.label()
    }
}

/// The folder name an address (or a `folder` key) gives: lower case, and nothing but letters,
/// digits and `@.-_+` (no path separator, no `..`).
pub fn folder_name(address: &str) -> String {
    let name: String = address
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || "@-_+".contains(c) || c == '.' { c } else { '_' })
        .collect();
    match name.trim_matches('.') {
        "" => "_".to_owned(),
        _ if name.starts_with('.') => format!("_{name}"),
        _ => name,
    }
}

impl OtherAccount {
    /// The name of its folder in the data folder's `accounts`, where an account other than the
    /// first keeps its outbox and what it learned (the first keeps the data folder itself, as
    /// before there were several).
    pub fn folder(&self) -> String {
        folder_name(self.folder.as_deref().unwrap_or(&self.account.address))
    }
}

/// A 署名 with the name 作成's list shows it by.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamedSignature {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    pub address: String,
    /// What the account is called in lists and menus (「大学」); unset: its address.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// 署名: put at the end of each new message written in the window (several lines).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Other 署名 to switch to in 作成 (`signature` is the one a new message starts with).
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_signatures: Vec<NamedSignature>,
    /// How subject, names and body are encoded: "utf-8" (default) or "iso-2022-jp".
    #[serde(default)]
    #[serde(skip_serializing_if = "is_utf8")]
    pub charset: crate::message::compose::Charset,
}

fn is_utf8(c: &crate::message::compose::Charset) -> bool {
    *c == crate::message::compose::Charset::Utf8
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PopSection {
    pub host: String,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    pub username: String,
    #[serde(default)]
    pub auth: PopAuth,
    #[serde(default)]
    pub allow_plaintext_password: bool,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_command: Option<String>,
    /// How long `password_command` may take before it is stopped.
    #[serde(default = "default_command_timeout", skip_serializing_if = "is_default_command_timeout")]
    pub password_command_timeout_seconds: u64,
}

pub const DEFAULT_COMMAND_TIMEOUT: u64 = 30;

fn default_command_timeout() -> u64 {
    DEFAULT_COMMAND_TIMEOUT
}

fn is_default_command_timeout(s: &u64) -> bool {
    *s == DEFAULT_COMMAND_TIMEOUT
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    /// Defaults to the POP host: POP before SMTP is one server's rule.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    /// Only for servers that also offer SMTP AUTH (587/465); the POP password is used.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// SMTP AUTH over a connection that is not encrypted (`security = "none"`) sends the password
    /// in the clear: refused unless this says so, as for POP.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_plaintext_password: bool,
    /// Ports of the same host tried when the configured one does not answer (a provider's
    /// OP25B blocks 25 from home): 587 (STARTTLS where offered) and 465 (TLS) unless set; `[]`
    /// keeps the configured port only. SMTP AUTH goes to them only over TLS.
    #[serde(default = "default_other_ports", skip_serializing_if = "is_default_other_ports")]
    pub other_ports: Vec<OtherPort>,
}

/// A port tried besides the configured one (`[smtp] other_ports`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtherPort {
    pub port: u16,
    /// TLS from the first byte (465); otherwise STARTTLS where the server offers it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}

/// 587 (submission, STARTTLS) and 465 (submissions, TLS): where a server takes mail from outside
/// when 25 is blocked.
pub fn default_other_ports() -> Vec<OtherPort> {
    vec![OtherPort { port: 587, tls: false }, OtherPort { port: 465, tls: true }]
}

fn is_default_other_ports(p: &[OtherPort]) -> bool {
    p == default_other_ports().as_slice()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelaySection {
    pub window_seconds: u64,
    pub reuse_window: bool,
    /// Unset: 60 s, or a quarter of the window when that is shorter (see `margin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin_seconds: Option<u64>,
}

impl Default for RelaySection {
    fn default() -> Self {
        RelaySection { window_seconds: 600, reuse_window: false, margin_seconds: None }
    }
}

impl RelaySection {
    /// How much of the window must remain for `reuse_window` to skip the login.
    pub fn margin(&self) -> u64 {
        self.margin_seconds.unwrap_or((self.window_seconds / 4).min(60))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// The window's own preferences (the command line ignores them, except `language`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppSection {
    /// "ja" or "en"; unset: the OS's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// "light" or "dark"; unset: the desktop's choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    /// A desktop notification when a waiting message is sent or fails for good.
    pub notifications: bool,
    /// 「ログイン時に起動する」: the OS starts `popsend watch --until-empty` at login.
    pub autostart: bool,
    /// 文字サイズ: the window's zoom, 1.0 = 100 % (through `usable_zoom` when used).
    pub zoom: f32,
    /// 描画方式: "gl" (the graphics card, through OpenGL) or "cpu" (drawn by the processor);
    /// unset: chosen at start (`POPSEND_RENDERER` overrides both).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renderer: Option<String>,
}

/// The zoom factors the window accepts (a hand-edited config outside them is brought inside).
pub const ZOOM_RANGE: std::ops::RangeInclusive<f32> = 0.75..=3.0;

/// `zoom` brought inside `ZOOM_RANGE`.
pub fn usable_zoom(zoom: f32) -> f32 {
    zoom.clamp(*ZOOM_RANGE.start(), *ZOOM_RANGE.end())
}

/// The local submission server (`popsend serve`): other mail programs on this computer send
/// through popsend. Always on loopback only; there is no address to set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubmissionSection {
    /// The window runs the server while it is open (`popsend serve` runs it headless).
    pub enabled: bool,
    pub port: u16,
    /// How long a program's session waits for its message to be sent at once before it hears
    /// "queued" (a permanent refusal in that time goes back to it as the server's 5xx).
    pub try_seconds: u64,
    /// Ask for popsend's local user name and password (generated; in the data folder). Off only
    /// by choice: anyone on this computer could then send as the account.
    pub require_auth: bool,
}

impl SubmissionSection {
    fn is_default(&self) -> bool {
        *self == SubmissionSection::default()
    }

    /// `try_seconds`, at most ten minutes (a program would give up first).
    pub fn try_seconds(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.try_seconds.min(600))
    }
}

impl Default for SubmissionSection {
    fn default() -> Self {
        SubmissionSection { enabled: false, port: 2525, try_seconds: 20, require_auth: true }
    }
}

impl Default for AppSection {
    fn default() -> Self {
        AppSection { language: None, theme: None, notifications: true, autostart: false, zoom: 1.0, renderer: None }
    }
}

impl PopSection {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::Tls => 995,
            _ => 110,
        })
    }
}

impl Config {
    /// What lists and menus call this account: its name, or its address.
    pub fn label(&self) -> String {
        match self.account.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => self.account.address.clone(),
        }
    }

    /// The first account's own tables.
    pub fn own(&self) -> OtherAccount {
        OtherAccount {
            folder: None,
            account: self.account.clone(),
            pop: self.pop.clone(),
            smtp: self.smtp.clone(),
            relay: self.relay.clone(),
            tls: self.tls.clone(),
        }
    }

    /// This file's shared tables with `a`'s own: the config of one account alone.
    pub fn with_own(&self, a: &OtherAccount) -> Config {
        Config {
            account: a.account.clone(),
            pop: a.pop.clone(),
            smtp: a.smtp.clone(),
            relay: a.relay.clone(),
            tls: a.tls.clone(),
            app: self.app.clone(),
            submission: self.submission.clone(),
            accounts: Vec::new(),
            fingerprint: self.fingerprint.clone(),
        }
    }

    /// Every account, the default first.
    pub fn every(&self, paths: &Paths) -> Vec<Account> {
        let first = Account {
            index: 0,
            config: self.with_own(&self.own()),
            data_dir: paths.data_dir.clone(),
            password_file: crate::system::secrets::password_file(&paths.config_file),
        };
        let others = self.accounts.iter().enumerate().map(|(i, a)| {
            let data_dir = paths.data_dir.join("accounts").join(a.folder());
            Account {
                index: i + 1,
                config: self.with_own(a),
                password_file: data_dir.join(crate::system::secrets::PASSWORD_FILE),
                data_dir,
            }
        });
        std::iter::once(first).chain(others).collect()
    }

    /// The account `name` names (its name or its address, case aside); `None`: the default.
    pub fn pick(&self, paths: &Paths, name: Option<&str>) -> Result<Account, UnknownAccount> {
        let mut every = self.every(paths);
        let Some(name) = name.map(str::trim) else { return Ok(every.swap_remove(0)) };
        let found = every.iter().position(|a| {
            a.config.account.address.eq_ignore_ascii_case(name)
                || a.config.account.name.as_deref().is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
        });
        match found {
            Some(i) => Ok(every.swap_remove(i)),
            None => Err(UnknownAccount { asked: name.to_owned(), known: every.iter().map(Account::label).collect() }),
        }
    }

    /// The account whose address `address` is (case aside), if any.
    pub fn by_address(&self, paths: &Paths, address: &str) -> Option<Account> {
        self.every(paths).into_iter().find(|a| a.config.account.address.eq_ignore_ascii_case(address.trim()))
    }

    pub fn smtp_host(&self) -> &str {
        self.smtp.host.as_deref().unwrap_or(&self.pop.host)
    }

    pub fn smtp_port(&self) -> u16 {
        self.smtp.port.unwrap_or(match self.smtp.security {
            Security::Tls => 465,
            _ => 25,
        })
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            key: None,
            problem: if e.kind() == std::io::ErrorKind::NotFound {
                ConfigProblem::Missing
            } else {
                ConfigProblem::Unreadable(e.to_string())
            },
        })?;
        check_permissions(path)?;
        Config::parse(&text, path)
    }

    /// Parses and validates TOML text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        // The parser's own Display quotes the offending line, and its message the offending value,
        // either of which could be a password typed into the wrong key: report the line number,
        // the key and what was expected only.
        let config: Config = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| s.start.min(text.len()));
            let message = without_values(e.message());
            ConfigError {
                path: path.to_owned(),
                key: at.and_then(|at| key_at(text, at)),
                problem: ConfigProblem::Syntax(match at {
                    Some(at) => format!("line {}: {message}", text[..at].matches('\n').count() + 1),
                    None => message,
                }),
            }
        })?;
        let mut config = config;
        config.fingerprint = fingerprint(text);
        config.validate_others().map_err(|(key, problem)| ConfigError {
            path: path.to_owned(),
            key: Some(key),
            problem,
        })?;
        config.validate().map_err(|(key, problem)| ConfigError {
            path: path.to_owned(),
            key: Some(key.to_owned()),
            problem: match (problem, line_of_key(text, key)) {
                (ConfigProblem::Invalid(p), Some(line)) => ConfigProblem::Invalid(format!("line {line}: {p}")),
                (p, _) => p,
            },
        })?;
        Ok(config)
    }

    /// Each other account's keys (named `accounts[N].pop.host`, N from 1), and every address once.
    fn validate_others(&self) -> Result<(), (String, ConfigProblem)> {
        for (i, a) in self.accounts.iter().enumerate() {
            if let Some((key, fault)) = self.with_own(a).faults().into_iter().next() {
                return Err((format!("accounts[{}].{key}", i + 1), ConfigProblem::Invalid(fault.to_string())));
            }
        }
        if let Some(i) = self.duplicate_account() {
            return Err((
                format!("accounts[{i}].account.address"),
                ConfigProblem::Invalid(Fault::Duplicate.to_string()),
            ));
        }
        Ok(())
    }

    /// The first other account (numbered from 1) whose address or name an earlier account has.
    /// Also one whose folder (of the data folder's `accounts`) an earlier one has: two accounts
    /// never share an outbox.
    pub fn duplicate_account(&self) -> Option<usize> {
        let all: Vec<OtherAccount> = std::iter::once(self.own()).chain(self.accounts.iter().cloned()).collect();
        let same = |i: usize, j: usize| {
            let (a, b) = (&all[i], &all[j]);
            a.account.address.trim().eq_ignore_ascii_case(b.account.address.trim())
                || matches!((&a.account.name, &b.account.name), (Some(x), Some(y)) if !x.trim().is_empty() && x.trim().eq_ignore_ascii_case(y.trim()))
                || (i > 0 && a.folder() == b.folder())
        };
        (1..all.len()).find(|&j| (0..j).any(|i| same(i, j)))
    }

    fn validate(&self) -> Result<(), (&'static str, ConfigProblem)> {
        match self.faults().into_iter().next() {
            Some((key, fault)) => Err((key, ConfigProblem::Invalid(fault.to_string()))),
            None => Ok(()),
        }
    }

    /// Every key whose value cannot be used, in file order (the settings view names them all).
    pub fn faults(&self) -> Vec<(&'static str, Fault)> {
        let mut out = Vec::new();
        let mut bad = |key, f| out.push((key, f));
        if self.account.address.parse::<lettre::Address>().is_err() {
            bad("account.address", Fault::Address);
        }
        if self.account.display_name.as_deref().is_some_and(|n| n.contains(['\r', '\n'])) {
            bad("account.display_name", Fault::LineBreak);
        }
        if self.account.name.as_deref().is_some_and(|n| n.contains(['\r', '\n'])) {
            bad("account.name", Fault::LineBreak);
        }
        if !host_ok(&self.pop.host) {
            bad("pop.host", Fault::Host);
        }
        if self.pop.port == Some(0) {
            bad("pop.port", Fault::Port);
        }
        if self.pop.username.is_empty() || self.pop.username.contains(['\r', '\n', ' ']) {
            bad("pop.username", Fault::OneWord);
        }
        if self.pop.password_command.as_deref().is_some_and(|c| c.trim().is_empty()) {
            bad("pop.password_command", Fault::Empty);
        }
        if self.smtp.host.as_ref().is_some_and(|h| !host_ok(h)) {
            bad("smtp.host", Fault::Host);
        }
        if self.smtp.port == Some(0) {
            bad("smtp.port", Fault::Port);
        }
        if let Some(user) = &self.smtp.username
            && (user.is_empty() || user.contains(['\r', '\n']))
        {
            bad("smtp.username", Fault::LineBreak);
        }
        if self.pop.password_command_timeout_seconds == 0 {
            bad("pop.password_command_timeout_seconds", Fault::Zero);
        }
        if self.relay.window_seconds == 0 {
            bad("relay.window_seconds", Fault::Zero);
        }
        if self.relay.margin_seconds.is_some_and(|m| m >= self.relay.window_seconds) {
            bad("relay.margin_seconds", Fault::MarginTooLong);
        }
        if self.tls.ca_file.as_ref().is_some_and(|ca| !ca.is_file()) {
            bad("tls.ca_file", Fault::NoFile);
        }
        if self.app.language.as_deref().is_some_and(|l| !["ja", "en"].contains(&l)) {
            bad("app.language", Fault::Language);
        }
        if self.app.theme.as_deref().is_some_and(|t| !["light", "dark"].contains(&t)) {
            bad("app.theme", Fault::Theme);
        }
        if self.app.renderer.as_deref().is_some_and(|r| !["gl", "cpu"].contains(&r)) {
            bad("app.renderer", Fault::Renderer);
        }
        out
    }
}

/// Why one key's value cannot be used. Never holds the value: a password typed into the wrong key
/// must not come back in an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Address,
    Host,
    Port,
    /// Must be one word without spaces.
    OneWord,
    LineBreak,
    Empty,
    Zero,
    MarginTooLong,
    NoFile,
    Language,
    Theme,
    Renderer,
    /// Another account has the same address or name.
    Duplicate,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Address => write!(f, "not a mail address"),
            Fault::Host => write!(f, "not a host name"),
            Fault::Port => write!(f, "port 0 is not a port"),
            Fault::OneWord => write!(f, "must be one word without spaces"),
            Fault::LineBreak => write!(f, "must not be empty or contain a line break"),
            Fault::Empty => write!(f, "is empty"),
            Fault::Zero => write!(f, "must be more than 0"),
            Fault::MarginTooLong => write!(f, "must be less than relay.window_seconds"),
            Fault::NoFile => write!(f, "no such file"),
            Fault::Language => write!(f, "must be \"ja\" or \"en\""),
            Fault::Theme => write!(f, "must be \"light\" or \"dark\""),
            Fault::Renderer => write!(f, "must be \"gl\" or \"cpu\""),
            Fault::Duplicate => write!(f, "another account has the same address or name"),
        }
    }
}

/// The parser's message without the value it quotes: `invalid type: string "Hunter2", expected a
/// boolean` becomes `invalid type, expected a boolean`. Key names (`unknown field `x``) and the
/// list of what is expected stay: they come from popsend, not from the file.
fn without_values(message: &str) -> String {
    let message = message.trim_end();
    if message.starts_with("unknown field")
        || message.starts_with("missing field")
        || message.starts_with("duplicate key")
    {
        return message.to_owned();
    }
    if let Some((head, expected)) = message.split_once(", expected ") {
        let head = head[..head.find([':', '`', '"', '\'']).unwrap_or(head.len())].trim_end();
        return format!("{head}, expected {expected}");
    }
    // A syntax error names what is wrong with the text; anything quoted in it came from the file.
    match message.find(['`', '"', '\'']) {
        Some(i) => message[..i].trim_end_matches([' ', ':']).to_owned(),
        None => message.to_owned(),
    }
}

/// The line (1-based) where the dotted key `table.key` is written, if it is.
fn line_of_key(text: &str, dotted: &str) -> Option<usize> {
    let (table, key) = dotted.split_once('.')?;
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if let Some(t) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_table = t.trim() == table;
        } else if in_table && l.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            return Some(i + 1);
        }
    }
    None
}

/// The dotted key (`smtp.security`) written on the line holding byte `at`, if it is a key line.
fn key_at(text: &str, at: usize) -> Option<String> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line.split_once('=')?.0.trim();
    if key.is_empty() || key.contains(['"', '\'', '[']) {
        return None;
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')))
        .map(str::trim);
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_owned(),
    })
}

/// FNV-1a of the text, as hex: stable across runs and builds.
fn fingerprint(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn host_ok(host: &str) -> bool {
    !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || c.is_control() || c == '/')
}

/// A config file others may write could hand popsend a `password_command` to run, or a server
/// of theirs to send the password to: refused, as ssh refuses such a config.
fn check_permissions(path: &Path) -> Result<(), ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o022 != 0
        {
            return Err(ConfigError {
                path: path.to_owned(),
                key: None,
                problem: ConfigProblem::Insecure(m.permissions().mode() & 0o777),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// `--account NAME` names no account: what was asked and the accounts there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAccount {
    pub asked: String,
    pub known: Vec<String>,
}

/// A configuration file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// The dotted key at fault (`pop.host`), when one key is.
    pub key: Option<String>,
    pub problem: ConfigProblem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigProblem {
    Missing,
    Unreadable(String),
    Syntax(String),
    Invalid(String),
    /// Group or others may write the file (its mode).
    Insecure(u32),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        match &self.problem {
            ConfigProblem::Missing => write!(f, "no such file"),
            ConfigProblem::Unreadable(e) => write!(f, "cannot read: {e}"),
            ConfigProblem::Syntax(e) => write!(f, "{e}"),
            ConfigProblem::Invalid(e) => write!(f, "{e}"),
            ConfigProblem::Insecure(mode) => write!(
                f,
                "others may change this file (mode {mode:04o}), and it says which command gives the password and where it goes; \
                 refused until only you can write it (chmod go-w)"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Where popsend keeps its files, unless `--config` / `--data-dir` say otherwise.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    pub fn resolve(config: Option<PathBuf>, data_dir: Option<PathBuf>) -> Paths {
        // ~/.config/popsend and ~/.local/share/popsend; %APPDATA%\popsend\config and
        // %LOCALAPPDATA%\popsend\data (not popsend\popsend); macOS: the bundle id's folder.
        let name = if cfg!(target_os = "macos") { crate::APP_ID } else { "popsend" };
        let dirs = directories::ProjectDirs::from_path(PathBuf::from(name));
        let config_file = config.unwrap_or_else(|| match &dirs {
            Some(d) => d.config_dir().join("config.toml"),
            None => PathBuf::from("popsend.toml"),
        });
        let data_dir = data_dir.unwrap_or_else(|| match &dirs {
            Some(d) => d.data_local_dir().to_owned(),
            None => PathBuf::from("popsend-data"),
        });
        Paths { config_file, data_dir }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[account]
address = "taro@example.ac.jp"
display_name = "山田 太郎"
[pop]
host = "mail.example.ac.jp"
username = "taro"
[smtp]
"#;

    const SECOND: &str = r#"
[[accounts]]
[accounts.account]
address = "Taro@Provider.ne.jp"
name = "プロバイダー"
[accounts.pop]
host = "pop.provider.ne.jp"
username = "taro123"
[accounts.smtp]
port = 587
"#;

    /// Issue 28: a second account has its own tables, its own folder in the data folder and its
    /// own password file; the first keeps the data folder itself and the password file beside
    /// the config, as before there were several.
    #[test]
    fn other_accounts_have_their_own_folder_and_password_file() {
        let c = Config::parse(&format!("{GOOD}{SECOND}"), Path::new("c.toml")).unwrap();
        let paths = Paths { config_file: "/cfg/config.toml".into(), data_dir: "/data".into() };
        let every = c.every(&paths);
        assert_eq!(every.len(), 2);
        assert_eq!((every[0].index, every[0].label()), (0, "taro@example.ac.jp".to_owned()));
        assert_eq!(every[0].data_dir, Path::new("/data"));
        assert_eq!(every[0].password_file, Path::new("/cfg/password"));
        assert_eq!((every[1].index, every[1].label()), (1, "プロバイダー".to_owned()));
        assert_eq!(every[1].data_dir, Path::new("/data/accounts/taro@provider.ne.jp"));
        assert_eq!(every[1].password_file, Path::new("/data/accounts/taro@provider.ne.jp/password"));
        // Its own servers; the file's shared tables (here the defaults) with them.
        assert_eq!((every[1].config.pop.host.as_str(), every[1].config.smtp_port()), ("pop.provider.ne.jp", 587));
        assert_eq!(every[1].config.smtp_host(), "pop.provider.ne.jp");
        assert!(every[1].config.accounts.is_empty());
        // Picked by name or address, any case; none named: the first.
        assert_eq!(c.pick(&paths, Some("プロバイダー")).unwrap().index, 1);
        assert_eq!(c.pick(&paths, Some("taro@provider.NE.jp")).unwrap().index, 1);
        assert_eq!(c.pick(&paths, None).unwrap().index, 0);
        let e = c.pick(&paths, Some("バイト先")).unwrap_err();
        assert_eq!(e.known, ["taro@example.ac.jp", "プロバイダー"]);
        assert_eq!(c.by_address(&paths, " TARO@provider.ne.jp").map(|a| a.index), Some(1));
        assert!(c.by_address(&paths, "someone@example.org").is_none());
    }

    #[test]
    fn a_second_account_with_the_same_address_or_a_bad_key_is_named() {
        let same = SECOND.replace("Taro@Provider.ne.jp", "TARO@example.ac.jp");
        let e = Config::parse(&format!("{GOOD}{same}"), Path::new("c.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("accounts[1].account.address"), "{e}");
        assert!(e.to_string().contains("another account"), "{e}");
        let bad = SECOND.replace("pop.provider.ne.jp", "pop provider");
        let e = Config::parse(&format!("{GOOD}{bad}"), Path::new("c.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("accounts[1].pop.host"), "{e}");
        // Two accounts in one folder (a `folder` kept from an earlier address) would share an outbox.
        let third = "[[accounts]]\nfolder = \"taro@provider.ne.jp\"\n[accounts.account]\naddress = \"lab@example.ac.jp\"\n\
                     [accounts.pop]\nhost = \"pop.example.ac.jp\"\nusername = \"lab\"\n[accounts.smtp]\n";
        let e = Config::parse(&format!("{GOOD}{SECOND}{third}"), Path::new("c.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("accounts[2].account.address"), "{e}");
        let unknown = SECOND.replace("[accounts.smtp]", "[accounts.smtp]\npasword = \"x\"");
        let e = Config::parse(&format!("{GOOD}{unknown}"), Path::new("c.toml")).unwrap_err();
        assert!(!e.to_string().contains("\"x\""), "{e}");
    }

    /// Issue 28: a file of one account (today's) reads as it did: no other account, nothing to
    /// move, and written back it has no `accounts` table.
    #[test]
    fn a_single_account_file_is_read_as_before() {
        let c = Config::parse(GOOD, Path::new("c.toml")).unwrap();
        assert!(c.accounts.is_empty());
        let paths = Paths { config_file: "/cfg/config.toml".into(), data_dir: "/data".into() };
        assert_eq!(c.every(&paths).len(), 1);
        assert!(!toml::to_string(&c).unwrap().contains("accounts"));
    }

    #[test]
    fn defaults_follow_the_reference_server() {
        let c = Config::parse(GOOD, Path::new("c.toml")).unwrap();
        assert_eq!(c.pop.port(), 110);
        assert_eq!(c.smtp_port(), 25);
        assert_eq!(c.smtp_host(), "mail.example.ac.jp");
        assert_eq!(c.relay.window_seconds, 600);
        assert!(!c.relay.reuse_window);
        assert_eq!(c.relay.margin(), 60);
        assert_eq!(c.pop.auth, PopAuth::Auto);
        assert!(!c.pop.allow_plaintext_password);
    }

    #[test]
    fn tls_ports_default_to_the_implicit_ones() {
        let text = GOOD
            .replace("username = \"taro\"", "username = \"taro\"\nsecurity = \"tls\"")
            .replace("[smtp]", "[smtp]\nsecurity = \"tls\"");
        let c = Config::parse(&text, Path::new("c.toml")).unwrap();
        assert_eq!(c.pop.port(), 995);
        assert_eq!(c.smtp_port(), 465);
    }

    #[test]
    fn errors_name_file_and_key() {
        let text = GOOD.replace("taro@example.ac.jp", "not an address");
        let e = Config::parse(&text, Path::new("/x/c.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("account.address"));
        let shown = e.to_string();
        assert!(shown.starts_with("/x/c.toml: account.address: "), "{shown}");
    }

    #[test]
    fn unknown_key_and_bad_value_are_syntax_errors_naming_the_key() {
        let e = Config::parse(&GOOD.replace("[smtp]", "[smtp]\nhots = \"a\""), Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().contains("hots"), "{e}");
        let e = Config::parse(&GOOD.replace("[smtp]", "[smtp]\nsecurity = \"ssl\""), Path::new("c.toml")).unwrap_err();
        assert!(matches!(e.problem, ConfigProblem::Syntax(_)));
        assert_eq!(e.key.as_deref(), Some("smtp.security"));
        assert!(
            e.to_string().starts_with("c.toml: smtp.security: line 9: unknown variant, expected one of `none`"),
            "{e}"
        );
        assert!(!e.to_string().contains("ssl"), "the value leaked: {e}");
    }

    #[test]
    fn a_short_window_gets_a_short_default_margin() {
        let c = Config::parse(&format!("{GOOD}\n[relay]\nwindow_seconds = 30\n"), Path::new("c.toml")).unwrap();
        assert_eq!(c.relay.margin(), 7);
    }

    #[test]
    fn margin_must_fit_in_window() {
        let text = format!("{GOOD}\n[relay]\nwindow_seconds = 30\nmargin_seconds = 30\n");
        let e = Config::parse(&text, Path::new("c.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("relay.margin_seconds"));
    }

    #[test]
    fn a_password_key_is_refused() {
        let text = GOOD.replace("username = \"taro\"", "username = \"taro\"\npassword = \"hunter2-secret\"");
        let e = Config::parse(&text, Path::new("c.toml")).unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("unknown field `password`"), "{shown}");
        assert!(shown.contains("line 8"), "{shown}");
        assert_eq!(e.key.as_deref(), Some("pop.password"));
        assert!(!shown.contains("hunter2-secret"), "the value leaked: {shown}");
    }

    #[test]
    fn missing_file_is_named() {
        let e = Config::load(Path::new("/nonexistent/popsend.toml")).unwrap_err();
        assert_eq!(e.problem, ConfigProblem::Missing);
        assert!(e.to_string().contains("/nonexistent/popsend.toml"));
    }

    /// Issue 9, case 3: no kind of config error shows the value it refused.
    #[test]
    fn no_config_error_echoes_the_value() {
        let secret = "Hunter2-s3cret";
        for (key_line, key) in [
            (format!("allow_plaintext_password = \"{secret}\""), "pop.allow_plaintext_password"),
            (format!("port = \"{secret}\""), "pop.port"),
            (format!("auth = \"{secret}\""), "pop.auth"),
            (format!("security = \"{secret}\""), "pop.security"),
            (format!("password_command_timeout_seconds = \"{secret}\""), "pop.password_command_timeout_seconds"),
            (format!("host2 = \"{secret}\""), "pop.host2"),
            ("port = 99999".to_owned(), "pop.port"),
            (format!("username = [\"{secret}\"]"), "pop.username"),
        ] {
            let text = GOOD.replace("username = \"taro\"", &format!("username = \"taro\"\n{key_line}"));
            let text =
                if key_line.starts_with("username") { GOOD.replace("username = \"taro\"", &key_line) } else { text };
            let e = Config::parse(&text, Path::new("c.toml")).unwrap_err();
            let shown = e.to_string();
            assert!(!shown.contains(secret) && !shown.contains("99999"), "the value leaked: {shown}");
            assert_eq!(e.key.as_deref(), Some(key), "{shown}");
            assert!(shown.contains("line "), "{shown}");
        }
        // Validation faults: the key and the line, not the value.
        let text = GOOD.replace("mail.example.ac.jp", &format!("{secret} x"));
        let e = Config::parse(&text, Path::new("c.toml")).unwrap_err();
        let shown = e.to_string();
        assert_eq!(shown, "c.toml: pop.host: line 6: not a host name");
        let text = GOOD.replace("taro@example.ac.jp", secret);
        let shown = Config::parse(&text, Path::new("c.toml")).unwrap_err().to_string();
        assert_eq!(shown, "c.toml: account.address: line 3: not a mail address");
        // A syntax error quoting the text.
        let text = GOOD.replace("username = \"taro\"", &format!("username = \"taro\"\nx = \"{secret}"));
        let shown = Config::parse(&text, Path::new("c.toml")).unwrap_err().to_string();
        assert!(!shown.contains(secret), "{shown}");
    }

    /// Issue 9, case 15: a config others may write is refused, naming the file and the fix.
    #[cfg(unix)]
    #[test]
    fn a_config_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, GOOD).unwrap();
        for (mode, ok) in [(0o600, true), (0o644, true), (0o664, false), (0o666, false), (0o646, false)] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let r = Config::load(&p);
            assert_eq!(r.is_ok(), ok, "mode {mode:o}: {r:?}");
            if let Err(e) = r {
                assert!(matches!(e.problem, ConfigProblem::Insecure(_)));
                assert!(e.to_string().contains("chmod go-w"), "{e}");
            }
        }
    }
}
