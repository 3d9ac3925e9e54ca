//! The settings form (the window's model of 設定 and the assistant): every key of the config file
//! as text the user edits, filled from a `Config` (or the defaults on first run), from a provider
//! preset or from the servers the assistant found, and turned back into a validated `Config` and
//! its TOML text, naming each field that cannot be used. Pure data: it reads and writes no file
//! (the backend does), holds no password and draws nothing.

use std::path::PathBuf;

use crate::core::message::compose::Charset;
use crate::core::setup::account::{
    AccountSection, AppSection, Config, Fault, OtherAccount, PopAuth, PopSection, RelaySection, Security, SmtpSection,
    SubmissionSection, TlsSection, usable_zoom,
};
use crate::core::setup::discover::Proposal;
use crate::core::setup::presets::Preset;

/// The form's fields, as typed. Empty text means "unset" (the default applies).
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// Every account as the file has it (the first is the default); the fields below describe
    /// the one at `editing`, and replace it when the form is turned back into a config.
    pub accounts: Vec<OtherAccount>,
    pub editing: usize,
    /// What the account is called in lists and menus (empty: its address).
    pub name: String,
    pub address: String,
    pub display_name: String,
    /// 署名 (several lines).
    pub signature: String,
    /// Other 署名 (a name and the text), to switch to in 作成.
    pub other_signatures: Vec<(String, String)>,
    pub charset: Charset,
    pub pop_host: String,
    pub pop_port: String,
    pub pop_security: Security,
    pub pop_username: String,
    pub pop_auth: PopAuth,
    pub allow_plaintext_password: bool,
    pub password_command: String,
    pub smtp_host: String,
    pub smtp_port: String,
    pub smtp_security: Security,
    pub smtp_username: String,
    pub smtp_allow_plaintext_password: bool,
    /// 「設定したポートだけを使う」: no other port is tried (`[smtp] other_ports = []`).
    pub only_configured_port: bool,
    /// Not shown in the form; kept as the file has it (the ports tried otherwise).
    pub other_ports: Vec<crate::core::setup::account::OtherPort>,
    /// Not shown in the form; kept as the file has it.
    pub password_command_timeout_seconds: u64,
    /// The relay window in minutes ("10", "0.5").
    pub window_minutes: String,
    pub reuse_window: bool,
    pub margin_seconds: String,
    pub ca_file: String,
    /// "" (the OS's), "ja" or "en".
    pub language: String,
    /// "light", "dark" or "" (the desktop's).
    pub theme: String,
    /// 描画方式: "", "gl" or "cpu".
    pub renderer: String,
    pub notifications: bool,
    pub autostart: bool,
    /// 文字サイズ (1.0 = 100 %).
    pub zoom: f32,
    /// Not shown in the form; kept as the file has it.
    pub submission: SubmissionSection,
    /// Not shown in the form; the edited account's folder as the file has it (`OtherAccount::folder`).
    pub folder: Option<String>,
}

/// An account with nothing filled in: the reference server's rules (plain POP 110, SMTP 25,
/// ten minutes). It also stands in the place of the account whose fields the form holds.
fn blank() -> OtherAccount {
    OtherAccount {
        folder: None,
        account: AccountSection {
            address: String::new(),
            name: None,
            display_name: None,
            signature: None,
            other_signatures: Vec::new(),
            charset: Charset::Utf8,
        },
        pop: PopSection {
            host: String::new(),
            port: None,
            security: Security::None,
            username: String::new(),
            auth: PopAuth::Auto,
            allow_plaintext_password: false,
            password_command: None,
            password_command_timeout_seconds: crate::core::setup::account::DEFAULT_COMMAND_TIMEOUT,
        },
        smtp: SmtpSection {
            host: None,
            port: None,
            security: Security::None,
            username: None,
            allow_plaintext_password: false,
            other_ports: crate::core::setup::account::default_other_ports(),
        },
        relay: RelaySection::default(),
        tls: TlsSection::default(),
    }
}

fn config_of(a: OtherAccount) -> Config {
    Config {
        account: a.account,
        pop: a.pop,
        smtp: a.smtp,
        relay: a.relay,
        tls: a.tls,
        app: AppSection::default(),
        submission: SubmissionSection::default(),
        accounts: Vec::new(),
        fingerprint: String::new(),
    }
}

impl Default for Form {
    /// A new user's form: the reference server's rules (plain POP 110, SMTP 25, ten minutes).
    fn default() -> Form {
        Form::from_config(&config_of(blank()))
    }
}

/// The config file's text for `c`, as 「保存」 writes it.
pub fn config_text(c: &Config) -> String {
    let body = toml::to_string(c).expect("a config always serializes");
    format!("# popsend — written by the settings window; the password is not stored here.\n\n{body}")
}

/// One field that cannot be saved: its config key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub key: &'static str,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Required,
    /// Not a whole number from 1 to 65535.
    NotPort,
    /// Not a positive number.
    NotNumber,
    /// What the config's own validation says.
    Fault(Fault),
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

pub fn minutes(seconds: u64) -> String {
    // Two decimals at most (7 s is "0.12", not 0.11666666666666667): read back, they round to
    // the same whole second.
    if seconds.is_multiple_of(60) {
        (seconds / 60).to_string()
    } else {
        format!("{:.2}", seconds as f64 / 60.0).trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

impl Form {
    pub fn from_config(c: &Config) -> Form {
        Form::for_account(c, 0)
    }

    /// The form of `c` with the fields of its account `k` (0: the first; out of range: the first).
    pub fn for_account(c: &Config, k: usize) -> Form {
        let mut form = Form::fields(c);
        form.accounts = std::iter::once(c.own()).chain(c.accounts.iter().cloned()).collect();
        form.editing = usize::MAX;
        form.load(if k < form.accounts.len() { k } else { 0 });
        form
    }

    /// `current`'s accounts with a new one added, whose fields are `new`'s (the file's shared
    /// preferences stay as `current` has them).
    pub fn adding(current: &Form, new: &Form) -> Form {
        Form::at(current, new, current.accounts.len())
    }

    /// `current`'s accounts with `new`'s fields in account `k`'s place (`k` = their number: one
    /// more), the others and the file's shared preferences as `current` has them.
    pub fn at(current: &Form, new: &Form, k: usize) -> Form {
        let mut fields = new.clone();
        fields.accounts = current.every();
        let k = k.min(fields.accounts.len());
        fields.folder = fields.accounts.get(k).and_then(|a| a.folder.clone());
        match fields.accounts.get_mut(k) {
            Some(slot) => *slot = blank(),
            None => fields.accounts.push(blank()),
        }
        fields.editing = k;
        fields.language = current.language.clone();
        fields.theme = current.theme.clone();
        fields.renderer = current.renderer.clone();
        fields.notifications = current.notifications;
        fields.autostart = current.autostart;
        fields.zoom = current.zoom;
        fields.submission = current.submission.clone();
        fields
    }

    /// The form without account `k` (never the first, which is the default).
    pub fn without(&self, k: usize) -> Form {
        let mut form = self.clone();
        if k > 0 && k < form.accounts.len() {
            form.accounts.remove(k);
            match form.editing.cmp(&k) {
                std::cmp::Ordering::Equal => {
                    form.editing = usize::MAX;
                    form.load(0);
                }
                std::cmp::Ordering::Greater => form.editing -= 1,
                std::cmp::Ordering::Less => {}
            }
        }
        form
    }

    /// This form showing account `k`'s fields (`k` out of range: as it is).
    pub fn showing(&self, k: usize) -> Form {
        let mut form = self.clone();
        if k < form.accounts.len() && k != form.editing {
            form.load(k);
        }
        form
    }

    /// Moves to account `k`'s fields, keeping the edited ones in their place; when they cannot be
    /// kept (a field is wrong), nothing moves and the wrong fields are named.
    pub fn switch(&mut self, k: usize) -> Result<(), Vec<FieldError>> {
        if k == self.editing || k >= self.accounts.len() {
            return Ok(());
        }
        self.to_config()?;
        self.load(k);
        Ok(())
    }

    /// Every account as the form has it: the edited one from its fields (as typed, unchecked).
    pub fn every(&self) -> Vec<OtherAccount> {
        let mut all = self.accounts.clone();
        if let Some(slot) = all.get_mut(self.editing) {
            *slot = OtherAccount { folder: self.folder.clone(), ..self.built().0.own() };
        }
        all
    }

    /// The fields of account `k`, the edited ones kept in their place (the file's shared
    /// preferences as they are).
    fn load(&mut self, k: usize) {
        let mut all = self.every();
        let a = std::mem::replace(&mut all[k], blank());
        let folder = a.folder.clone();
        let mut fresh = Form::fields(&config_of(a));
        fresh.folder = folder;
        fresh.language = std::mem::take(&mut self.language);
        fresh.theme = std::mem::take(&mut self.theme);
        fresh.renderer = std::mem::take(&mut self.renderer);
        fresh.notifications = self.notifications;
        fresh.autostart = self.autostart;
        fresh.zoom = self.zoom;
        fresh.submission = self.submission.clone();
        fresh.accounts = all;
        fresh.editing = k;
        *self = fresh;
    }

    /// Account `k`'s address and 差出人の名前 (the edited account's as typed).
    pub fn identity(&self, k: usize) -> Option<(&str, &str)> {
        if k == self.editing {
            return Some((self.address.trim(), self.display_name.trim()));
        }
        let a = &self.accounts.get(k)?.account;
        Some((a.address.trim(), a.display_name.as_deref().unwrap_or("").trim()))
    }

    /// The labels of every account (name, or address), the edited one as typed.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self
            .accounts
            .iter()
            .map(|a| {
                a.account.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| a.account.address.clone())
            })
            .collect();
        if let Some(l) = labels.get_mut(self.editing) {
            *l = if self.name.trim().is_empty() { self.address.trim().to_owned() } else { self.name.trim().to_owned() };
        }
        labels
    }

    fn fields(c: &Config) -> Form {
        let text = |o: &Option<String>| o.clone().unwrap_or_default();
        let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
        Form {
            accounts: vec![blank()],
            editing: 0,
            name: text(&c.account.name),
            address: c.account.address.clone(),
            display_name: text(&c.account.display_name),
            signature: text(&c.account.signature),
            other_signatures: c.account.other_signatures.iter().map(|s| (s.name.clone(), s.text.clone())).collect(),
            charset: c.account.charset,
            pop_host: c.pop.host.clone(),
            pop_port: port(c.pop.port),
            pop_security: c.pop.security,
            pop_username: c.pop.username.clone(),
            pop_auth: c.pop.auth,
            allow_plaintext_password: c.pop.allow_plaintext_password,
            password_command: text(&c.pop.password_command),
            smtp_host: text(&c.smtp.host),
            smtp_port: port(c.smtp.port),
            smtp_security: c.smtp.security,
            smtp_username: text(&c.smtp.username),
            smtp_allow_plaintext_password: c.smtp.allow_plaintext_password,
            only_configured_port: c.smtp.other_ports.is_empty(),
            other_ports: c.smtp.other_ports.clone(),
            password_command_timeout_seconds: c.pop.password_command_timeout_seconds,
            window_minutes: minutes(c.relay.window_seconds),
            reuse_window: c.relay.reuse_window,
            margin_seconds: c.relay.margin_seconds.map(|m| m.to_string()).unwrap_or_default(),
            ca_file: c.tls.ca_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            language: text(&c.app.language),
            theme: text(&c.app.theme),
            renderer: text(&c.app.renderer),
            notifications: c.app.notifications,
            autostart: c.app.autostart,
            zoom: c.app.zoom,
            submission: c.submission.clone(),
            folder: None,
        }
    }

    /// The config this form describes, or every field that is wrong.
    pub fn to_config(&self) -> Result<Config, Vec<FieldError>> {
        let (mut config, mut errors) = self.built();
        for (key, fault) in config.faults() {
            if !errors.iter().any(|e| e.key == key) {
                errors.push(FieldError { key, problem: Problem::Fault(fault) });
            }
        }
        // The edited account in its place among the others.
        let mut all = self.every();
        if self.editing >= all.len() {
            all.push(config.own());
        }
        let first = all.remove(0);
        config.account = first.account;
        config.pop = first.pop;
        config.smtp = first.smtp;
        config.relay = first.relay;
        config.tls = first.tls;
        config.accounts = all;
        if config.duplicate_account().is_some() {
            errors.push(FieldError { key: "account.address", problem: Problem::Fault(Fault::Duplicate) });
        }
        if errors.is_empty() { Ok(config) } else { Err(errors) }
    }

    /// The edited account's config as the fields give it (a value that cannot be used left at its
    /// default) and the fields that are wrong, without looking at any file.
    fn built(&self) -> (Config, Vec<FieldError>) {
        let mut errors = Vec::new();
        let mut port = |key: &'static str, s: &str| match opt(s) {
            None => None,
            Some(t) => match t.parse::<u16>() {
                Ok(p) if p > 0 => Some(p),
                _ => {
                    errors.push(FieldError { key, problem: Problem::NotPort });
                    None
                }
            },
        };
        let pop_port = port("pop.port", &self.pop_port);
        let smtp_port = port("smtp.port", &self.smtp_port);
        let window_seconds = match self.window_minutes.trim().parse::<f64>() {
            Ok(m) if m.is_finite() && m > 0.0 && m < 1e6 => (m * 60.0).round().max(1.0) as u64,
            _ => {
                errors.push(FieldError { key: "relay.window_seconds", problem: Problem::NotNumber });
                600
            }
        };
        let margin_seconds = match opt(&self.margin_seconds) {
            None => None,
            Some(t) => match t.parse::<u64>() {
                Ok(m) => Some(m),
                Err(_) => {
                    errors.push(FieldError { key: "relay.margin_seconds", problem: Problem::NotNumber });
                    None
                }
            },
        };
        for (key, value) in
            [("account.address", &self.address), ("pop.host", &self.pop_host), ("pop.username", &self.pop_username)]
        {
            if value.trim().is_empty() {
                errors.push(FieldError { key, problem: Problem::Required });
            }
        }
        let config = Config {
            account: AccountSection {
                address: self.address.trim().to_owned(),
                name: opt(&self.name),
                display_name: opt(&self.display_name),
                signature: (!self.signature.trim().is_empty()).then(|| self.signature.trim_end().to_owned()),
                // One without text is left out; one without a name is named by its place.
                other_signatures: self
                    .other_signatures
                    .iter()
                    .filter(|(_, text)| !text.trim().is_empty())
                    .enumerate()
                    .map(|(i, (name, text))| crate::core::setup::account::NamedSignature {
                        name: if name.trim().is_empty() { format!("{}", i + 2) } else { name.trim().to_owned() },
                        text: text.trim_end().to_owned(),
                    })
                    .collect(),
                charset: self.charset,
            },
            pop: PopSection {
                host: self.pop_host.trim().to_owned(),
                port: pop_port,
                security: self.pop_security,
                username: self.pop_username.trim().to_owned(),
                auth: self.pop_auth,
                allow_plaintext_password: self.allow_plaintext_password,
                password_command: opt(&self.password_command),
                password_command_timeout_seconds: self.password_command_timeout_seconds,
            },
            smtp: SmtpSection {
                host: opt(&self.smtp_host),
                port: smtp_port,
                security: self.smtp_security,
                username: opt(&self.smtp_username),
                allow_plaintext_password: self.smtp_allow_plaintext_password,
                other_ports: match (self.only_configured_port, self.other_ports.is_empty()) {
                    (true, _) => Vec::new(),
                    (false, true) => crate::core::setup::account::default_other_ports(),
                    (false, false) => self.other_ports.clone(),
                },
            },
            relay: RelaySection { window_seconds, reuse_window: self.reuse_window, margin_seconds },
            tls: TlsSection { ca_file: opt(&self.ca_file).map(PathBuf::from) },
            app: AppSection {
                language: opt(&self.language),
                theme: opt(&self.theme),
                renderer: opt(&self.renderer),
                notifications: self.notifications,
                autostart: self.autostart,
                zoom: usable_zoom(self.zoom),
            },
            submission: self.submission.clone(),
            accounts: Vec::new(),
            fingerprint: String::new(),
        };
        (config, errors)
    }

    /// The config file's text for this form (what 「保存」 writes), or every field that is wrong.
    pub fn to_toml(&self) -> Result<String, Vec<FieldError>> {
        Ok(config_text(&self.to_config()?))
    }
}

impl Form {
    /// Fills the server fields the preset sets.
    pub fn apply_preset(&mut self, p: &Preset) {
        let f = self;
        if let Some(h) = &p.pop_host {
            f.pop_host = h.clone();
        }
        if let Some(port) = p.pop_port {
            f.pop_port = port.to_string();
        }
        if let Some(s) = p.pop_security {
            f.pop_security = s;
        }
        if let Some(a) = p.pop_allow_plaintext {
            f.allow_plaintext_password = a;
        }
        if let Some(h) = &p.smtp_host {
            f.smtp_host = h.clone();
        }
        if let Some(port) = p.smtp_port {
            f.smtp_port = port.to_string();
        }
        if let Some(s) = p.smtp_security {
            f.smtp_security = s;
        }
        match p.smtp_auth {
            Some(true) => f.smtp_username = f.pop_username.clone(),
            Some(false) => f.smtp_username.clear(),
            None => {}
        }
        if let Some(m) = p.window_minutes {
            f.window_minutes = if m.fract() == 0.0 { format!("{m:.0}") } else { m.to_string() };
        }
    }

    /// Fills the server fields the assistant found (the address, name and password stay).
    pub fn apply_proposal(&mut self, p: &Proposal) {
        let f = self;
        f.pop_host = p.pop_host.clone();
        f.pop_port = p.pop_port.to_string();
        f.pop_security = p.pop_security;
        f.smtp_host = if p.smtp_host == p.pop_host { String::new() } else { p.smtp_host.clone() };
        f.smtp_port = p.smtp_port.to_string();
        f.smtp_security = p.smtp_security;
        f.pop_username = p.usernames.first().cloned().unwrap_or_default();
        f.smtp_username = if p.smtp_auth { f.pop_username.clone() } else { String::new() };
        if let Some(m) = p.window_minutes {
            f.window_minutes = minutes((m * 60.0).round() as u64);
        }
        if let Some(ca) = &p.ca_file {
            f.ca_file = ca.display().to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn minutes_show_two_decimals_at_most_and_read_back_to_the_same_seconds() {
        assert_eq!(minutes(600), "10");
        assert_eq!(minutes(7), "0.12");
        assert_eq!(minutes(90), "1.5");
        for seconds in [1, 7, 59, 61, 89, 601, 3599] {
            let back = (minutes(seconds).parse::<f64>().unwrap() * 60.0).round() as u64;
            assert_eq!(back, seconds, "{seconds} s shown as {}", minutes(seconds));
        }
    }

    #[test]
    fn the_reference_server_is_a_preset_with_its_rules() {
        let all = crate::core::setup::presets::builtin();
        let t =
            all.iter().find(|p| p.pop_host.as_deref() == Some("mail.cc.tohoku.ac.jp")).expect("the reference server");
        let mut f = Form { pop_username: "taro".into(), address: "taro@example.ac.jp".into(), ..Form::default() };
        f.window_minutes = "3".into();
        f.apply_preset(t);
        assert_eq!((f.pop_port.as_str(), f.smtp_port.as_str(), f.window_minutes.as_str()), ("110", "25", "10"));
        assert_eq!(f.address, "taro@example.ac.jp", "a preset must not touch the address");
        assert!(f.to_config().is_ok());
        assert!(all.iter().any(|p| p.id.starts_with("generic")));
    }

    /// Issue 15: a preset for a server with neither TLS nor APOP can allow USER/PASS in the clear;
    /// the built-in ones never do.
    #[test]
    fn a_preset_may_allow_plaintext_and_the_built_in_ones_do_not() {
        let p =
            crate::core::setup::presets::parse("[[preset]]\nid = \"x\"\nname = \"x\"\npop_allow_plaintext = true\n")
                .unwrap();
        let mut f = Form::default();
        f.apply_preset(&p[0]);
        assert!(f.allow_plaintext_password);
        assert!(crate::core::setup::presets::builtin().iter().all(|p| p.pop_allow_plaintext.is_none()));
    }

    use std::path::Path;

    use super::*;

    fn filled() -> Form {
        Form {
            address: "taro@example.ac.jp".into(),
            pop_host: "mail.example.ac.jp".into(),
            pop_username: "taro".into(),
            ..Form::default()
        }
    }

    /// Issue 28: a form edits one account at a time; moving to another keeps what was typed in
    /// its place, a wrong field keeps the form where it is, and removing an account leaves the
    /// others as they were.
    #[test]
    fn accounts_are_edited_one_at_a_time() {
        let first = filled();
        let mut second = filled();
        second.address = "taro@provider.ne.jp".into();
        second.name = "プロバイダー".into();
        second.pop_host = "pop.provider.ne.jp".into();
        let mut f = Form::adding(&Form::from_config(&first.to_config().unwrap()), &second);
        assert_eq!((f.editing, f.labels()), (1, vec!["taro@example.ac.jp".to_owned(), "プロバイダー".to_owned()]));
        let c = f.to_config().unwrap();
        assert_eq!((c.account.address.as_str(), c.accounts.len()), ("taro@example.ac.jp", 1));
        assert_eq!(c.accounts[0].pop.host, "pop.provider.ne.jp");
        // Typed into the second, then to the first: the typing stays with the second.
        f.signature = "プロバイダーの署名".into();
        f.switch(0).unwrap();
        assert_eq!((f.editing, f.address.as_str(), f.signature.as_str()), (0, "taro@example.ac.jp", ""));
        f.switch(1).unwrap();
        assert_eq!(f.signature, "プロバイダーの署名");
        // The same address twice is named, and keeps the form on the account.
        f.address = "TARO@example.ac.jp".into();
        assert!(f.to_config().unwrap_err().iter().any(|e| e.problem == Problem::Fault(Fault::Duplicate)));
        assert!(f.switch(0).is_err());
        assert_eq!(f.editing, 1);
        f.address = "taro@provider.ne.jp".into();
        // Removed: the first stays exactly as saved, and its fields are the ones shown.
        let without = f.without(1);
        assert_eq!(without.editing, 0);
        let c = without.to_config().unwrap();
        assert!(c.accounts.is_empty());
        assert_eq!(c.own(), first.to_config().unwrap().own());
        // The first account cannot be removed.
        assert_eq!(without.without(0), without);
        // Showing another account's fields drops nothing of the saved ones.
        let saved = Form::from_config(&f.to_config().unwrap());
        let every: Vec<String> = saved.every().into_iter().map(|a| a.account.address).collect();
        assert_eq!(every, ["taro@example.ac.jp", "taro@provider.ne.jp"]);
        assert_eq!(saved.showing(1).to_config().unwrap().accounts, f.to_config().unwrap().accounts);
    }

    #[test]
    fn defaults_follow_the_reference_server() {
        let f = Form::default();
        assert_eq!(f.window_minutes, "10");
        assert_eq!((f.pop_security, f.smtp_security), (Security::None, Security::None));
        assert!(f.notifications);
    }

    #[test]
    fn saved_text_loads_back_to_the_same_form() {
        let mut f = filled();
        f.display_name = "山田 太郎".into();
        f.signature = "――\n山田 太郎 (情報科学部)\n\"引用\" と \\ も".into();
        f.other_signatures = vec![("サークル用".into(), "――\nたろう".into())];
        f.smtp_port = "587".into();
        f.smtp_security = Security::Starttls;
        f.window_minutes = "0.5".into();
        f.language = "en".into();
        f.theme = "dark".into();
        f.notifications = false;
        let text = f.to_toml().unwrap();
        let c = Config::parse(&text, Path::new("x.toml")).unwrap();
        assert_eq!(c.relay.window_seconds, 30);
        assert_eq!(Form::from_config(&c), f);
    }

    #[test]
    fn every_wrong_field_is_named() {
        let f = Form {
            address: "not an address".into(),
            pop_host: "".into(),
            pop_port: "99999".into(),
            smtp_host: "smtp example".into(),
            window_minutes: "十".into(),
            ..filled()
        };
        let keys: Vec<_> = f.to_config().unwrap_err().into_iter().map(|e| e.key).collect();
        for key in ["account.address", "pop.host", "pop.port", "smtp.host", "relay.window_seconds"] {
            assert!(keys.contains(&key), "{key} not named in {keys:?}");
        }
        assert!(!keys.contains(&"pop.username"), "{keys:?}");
    }

    #[test]
    fn a_line_break_in_the_name_is_refused() {
        let f = Form { display_name: "Taro\r\nBcc: x@example.net".into(), ..filled() };
        let e = f.to_config().unwrap_err();
        assert_eq!(e[0].key, "account.display_name");
    }
}
