//! The command line: `popsend [--config FILE] [--data-dir DIR] <command>`. Parses arguments,
//! loads the config, the outbox and the password, runs the core on a small tokio runtime, and
//! prints localized results. Exit codes: 0 done, 1 failed or needs the user, 2 usage/config,
//! 75 temporary (left queued). All protocol and storage work is in `core`; all wording in `i18n`.

// Every line the command line prints goes through `terminal_safe`: whatever came from outside
// (a Message-ID, a server's reply, a subject, a path) cannot move the cursor, retitle the terminal
// or turn text around, on any output path, present or future.

/// `println!` that ignores a closed stdout (`popsend queue | head`): the work goes on, and the
/// outbox stays consistent, when nobody reads the output any more.
macro_rules! say {
    () => {{ let _ = writeln!(std::io::stdout()); }};
    ($($arg:tt)*) => {{ let _ = writeln!(std::io::stdout(), "{}", crate::core::terminal_safe(&format!($($arg)*))); }};
}

/// `print!` likewise.
macro_rules! say_raw {
    ($($arg:tt)*) => {{ let _ = write!(std::io::stdout(), "{}", crate::core::terminal_safe(&format!($($arg)*))); }};
}

/// `eprintln!` / `eprint!` likewise, for standard error.
macro_rules! tell {
    ($($arg:tt)*) => {{ let _ = writeln!(std::io::stderr(), "{}", crate::core::terminal_safe(&format!($($arg)*))); }};
}
macro_rules! tell_raw {
    ($($arg:tt)*) => {{ let _ = write!(std::io::stderr(), "{}", crate::core::terminal_safe(&format!($($arg)*))); }};
}

mod accounts;
mod args;
mod background;
mod explain;
mod outbox_view;
mod start;

use args::*;
use background::*;
use start::*;

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use clap::FromArgMatches as _;

use crate::core::message::compose::Outgoing;
use crate::core::message::compose::{self, Draft};
use crate::core::protocol::net::TrustAnchors;
use crate::core::sending::deliver::Deliverer;
use crate::core::sending::engine;
use crate::core::sending::host::Host;
use crate::core::sending::knowledge;
use crate::core::sending::outbox::{Outbox, Status};
use crate::core::sending::relay::RelayWindow;
use crate::core::setup::account::{Config, Paths};
use crate::core::system::clock::{Clock, SystemClock};
use crate::core::system::secrets::{self, Source};
use crate::fl;

use explain::Failed;
pub use explain::{EXIT_FAILED, EXIT_OK, EXIT_TEMPORARY, EXIT_USAGE};

pub fn main() -> ExitCode {
    #[cfg(windows)]
    attach_console();
    crate::text::i18n::init(std::env::var("POPSEND_LANG").ok().as_deref());
    let mut cmd = command();
    // Called through a link named sendmail: sendmail's arguments follow.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.first().and_then(|a| std::path::Path::new(a).file_stem()).is_some_and(|n| n == "sendmail") {
        args.insert(1, "sendmail".into());
    }
    let matches = match cmd.try_get_matches_from_mut(args) {
        Ok(m) => m,
        Err(e) => {
            // Its words quote the arguments as typed: through `terminal_safe` like every line.
            if e.use_stderr() {
                tell!("{}", usage_error(&e));
                return ExitCode::from(EXIT_USAGE);
            }
            say_raw!("{}", e.render());
            return ExitCode::from(EXIT_OK);
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            tell!("{}", usage_error(&e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let command = match cli.command {
        None => return window(None, Paths::resolve(cli.config, cli.data_dir)),
        Some(Command::Other(words)) => {
            let [word] = words.as_slice() else {
                tell!("{}", fl!("err-unknown-word", word = crate::core::display_safe(&words.join(" "))));
                return ExitCode::from(EXIT_USAGE);
            };
            return window(Some(word), Paths::resolve(cli.config, cli.data_dir));
        }
        Some(c) => c,
    };
    // Guides need no config: they are for people still setting up.
    if let Command::Guide(GuideArgs { client }) = &command {
        return ExitCode::from(guide(&client.join(" ")));
    }
    let paths = Paths::resolve(cli.config, cli.data_dir);
    let code = match run(command, &paths, cli.account.as_deref()) {
        Ok(code) => code,
        Err(explained) => {
            tell_raw!("{}", explained.render());
            explained.exit
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

fn open_outbox(paths: &Paths) -> Result<Outbox, Failed> {
    Outbox::open(&paths.data_dir).map_err(|e| explain::failure(&e))
}

fn run(command: Command, root: &Paths, account: Option<&str>) -> Result<u8, Failed> {
    let file = Config::load(&root.config_file).map_err(|e| explain::failure(&e))?;
    // The language chosen in 設定, unless POPSEND_LANG says otherwise.
    if let (None, Some(lang)) = (std::env::var_os("POPSEND_LANG"), &file.app.language) {
        crate::text::i18n::init(Some(lang));
    }
    // With several accounts and none named, the lists, the status and the background work
    // cover them all.
    if account.is_none() && !file.accounts.is_empty() {
        let every = file.every(root);
        match &command {
            Command::Status => return accounts::status(&every),
            Command::Queue => return accounts::list(&every, &[Status::Queued, Status::Sending, Status::Failed]),
            Command::Sent => return accounts::list(&every, &[Status::Sent]),
            Command::Flush => return accounts::flush(&every),
            Command::Watch(WatchArgs { until_empty }) => return accounts::watch(&every, *until_empty),
            Command::Serve(ServeArgs { at_login }) => return accounts::serve(&every, root, *at_login),
            _ => {}
        }
    }
    // A message's number is its account's: with several accounts, `show`, `retry` and `delete`
    // say which (a number seen in `queue` may be another account's).
    if account.is_none()
        && !file.accounts.is_empty()
        && matches!(command, Command::Show(_) | Command::Retry(_) | Command::Delete(_))
    {
        let known: Vec<String> = file.every(root).iter().map(|a| a.label()).collect();
        return Err(explain::simple(
            fl!("err-which-account", known = known.join(fl!("list-separator").as_str())),
            EXIT_USAGE,
        ));
    }
    // The message as the program wrote it, read first: its sender may pick the account.
    let mut sendmail_raw = None;
    if let Command::Sendmail(_) = &command {
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::io::stdin(), crate::core::message::submission::MAX_MESSAGE as u64 + 1),
            &mut raw,
        )
        .map_err(|e| explain::simple(fl!("err-body", detail = format!("stdin: {e}")), EXIT_USAGE))?;
        sendmail_raw = Some(raw);
    }
    // `sendmail -f ADDR`, or else the message's From line, picks the account whose address it is.
    let by_sender = match (&command, account, &sendmail_raw) {
        (Command::Sendmail(args), None, Some(raw)) => args
            .sender
            .as_deref()
            .and_then(|a| file.by_address(root, a))
            .or_else(|| crate::core::protocol::smtpd::header_from(raw).and_then(|a| file.by_address(root, &a))),
        _ => None,
    };
    let picked = match by_sender {
        Some(a) => a,
        None => file.pick(root, account).map_err(|e| {
            explain::simple(
                fl!(
                    "err-no-such-account",
                    asked = e.asked.as_str(),
                    known = e.known.join(fl!("list-separator").as_str())
                ),
                EXIT_USAGE,
            )
        })?,
    };
    // POPSEND_PASSWORD is for the first account, or the one `--account` names: never sent to
    // another account's server that a message's sender picked.
    let env_ok = account.is_some() || picked.index == 0;
    let config = picked.config;
    let password_file = picked.password_file;
    let paths = &Paths { config_file: root.config_file.clone(), data_dir: picked.data_dir };
    let store = knowledge::Store::new(&paths.data_dir);
    let clock = SystemClock;
    // Commands that only read or edit the outbox need no password and no network.
    match &command {
        Command::Status => {
            status(&config, &store, &clock);
            // A corrupt or unreadable outbox is a failure of `status`, not a silent omission.
            let ob = open_outbox(paths)?;
            return outbox_view::counts_line(&ob);
        }
        Command::Queue => {
            return outbox_view::list(&open_outbox(paths)?, &[Status::Queued, Status::Sending, Status::Failed]);
        }
        Command::Sent => return outbox_view::list(&open_outbox(paths)?, &[Status::Sent]),
        Command::Show(IdArg { id }) => return outbox_view::show(&open_outbox(paths)?, *id),
        Command::Delete(IdArg { id }) => return outbox_view::delete(&open_outbox(paths)?, *id),
        _ => {}
    }
    let trust = TrustAnchors::load(config.tls.ca_file.as_deref()).map_err(|e| explain::failure(&e))?;
    let runtime =
        crate::core::runtime().map_err(|e| explain::simple(fl!("err-runtime", detail = e.to_string()), EXIT_FAILED))?;

    // Build and store the message before asking for the password: bad input fails fast, and a
    // message handed over is never lost, whatever happens next.
    let mut outbox = None;
    let mut queued = None;
    if let Command::Send(args) = &command {
        // A time that cannot be used fails before anything is stored.
        let at = match &args.at {
            Some(text) => Some(crate::core::sending::schedule::parse_one(text, clock.now()).map_err(|e| {
                explain::simple(
                    fl!("err-at", when = text.as_str(), why = crate::text::words::schedule_error(e)),
                    EXIT_USAGE,
                )
            })?),
            None => None,
        };
        let (out, subject, to) = build(args, &config, &clock)?;
        let ob = open_outbox(paths)?;
        let id = ob.enqueue_at(&out, &subject, &to, None, at, clock.now()).map_err(|e| explain::failure(&e))?;
        say!("{}", fl!("queued-one", id = id, msgid = out.message_id.as_str()));
        if let Some(at) = at {
            say!("{}", fl!("queued-at", at = crate::text::words::local_time(at, "%Y-%m-%d %H:%M")));
            return Ok(EXIT_OK);
        }
        if args.later {
            return Ok(EXIT_OK);
        }
        outbox = Some(ob);
        queued = Some(id);
    }
    if let (Command::Sendmail(args), Some(raw)) = (&command, sendmail_raw) {
        // The message as the program wrote it, stored before anything else happens.
        let handed = crate::core::message::submission::Handover {
            from: args.sender.as_deref(),
            full_name: args.full_name.as_deref(),
            recipients: &args.recipients,
            from_headers: args.from_headers,
        };
        let p = crate::core::message::submission::prepare(&raw, &handed, &config.account.address, clock.now())
            .map_err(|e| explain::failure(&e))?;
        let ob = open_outbox(paths)?;
        let id = ob.enqueue(&p.outgoing, &p.subject, &p.to, clock.now()).map_err(|e| explain::failure(&e))?;
        say!("{}", fl!("queued-one", id = id, msgid = p.outgoing.message_id.as_str()));
        outbox = Some(ob);
        queued = Some(id);
    }
    if let Command::Retry(IdArg { id }) = &command {
        let ob = open_outbox(paths)?;
        outbox_view::retry(&ob, *id, clock.now())?;
        outbox = Some(ob);
    }
    if let Command::Diagnose(DiagnoseArgs { skip_login }) = &command {
        // A missing password is one of the things the test reports, not a reason not to run it.
        let password = secrets::resolve_as(&config.pop, &password_file, env_ok).ok().map(|(p, _)| p);
        return Ok(diagnose(&runtime, &config, password.as_ref(), &trust, &clock, &store, *skip_login));
    }
    let (password, source) =
        secrets::resolve_as(&config.pop, &password_file, env_ok).map_err(|e| explain::failure(&e))?;
    // `serve` claims the data folder as a window does, before the runtime runs: the claim may
    // wait (a window that is closing) and, on Windows, runs a runtime of its own.
    let folder = match &command {
        Command::Serve(_) => Some(claim_for_server(root)?),
        _ => None,
    };

    runtime.block_on(async {
        let stop = AtomicBool::new(false);
        let mut d = Deliverer::new(&config, &password, &trust, &store, &clock);
        d.stop = Some(&stop);
        match command {
            Command::Auth => auth(&d, &config, source, &clock).await,
            Command::Watch(WatchArgs { until_empty }) => {
                let ob = open_outbox(paths)?;
                let host = Host::new(&paths.data_dir, &ob, &d);
                watch(&host, &stop, until_empty, tokio::sync::mpsc::channel(16), std::future::pending()).await
            }
            Command::Serve(ServeArgs { at_login }) => match folder {
                Some(Some(folder)) => {
                    let ob = open_outbox(paths)?;
                    let host = Host::new(&paths.data_dir, &ob, &d);
                    serve(std::slice::from_ref(&host), root, folder, &stop, at_login, file.accounts.is_empty()).await
                }
                // Held by a window or another server: said by `claim_for_server`.
                _ => Ok(EXIT_FAILED),
            },
            _ => {
                let ob = match outbox {
                    Some(ob) => ob,
                    None => open_outbox(paths)?,
                };
                let flushed = engine::flush(&ob, &d, true).await.map_err(|e| explain::failure(&e))?;
                let code = outbox_view::report_flush(&flushed, &clock);
                Ok(match queued {
                    // `send`: the exit code is this message's fate.
                    Some(id) => outbox_view::fate(&ob, id, &flushed),
                    None => code,
                })
            }
        }
    })
}

/// At most `limit` bytes of UTF-8 text from `r`; `what` names it in errors.
fn read_text(
    r: impl std::io::Read,
    limit: u64,
    what: &str,
    too_large: impl Fn(String) -> String,
) -> Result<String, String> {
    let mut b = Vec::new();
    let n = r.take(limit + 1).read_to_end(&mut b).map_err(|e| format!("{what}: {e}"))?;
    if n as u64 > limit {
        return Err(too_large(what.to_owned()));
    }
    String::from_utf8(b).map_err(|_| format!("{what}: not UTF-8 text"))
}

/// The message, its subject and its recipients as shown in lists.
fn build(args: &SendArgs, config: &Config, clock: &dyn Clock) -> Result<(Outgoing, String, String), Failed> {
    // The body is read with the same limit as attachments: `/dev/zero` or an endless pipe ends
    // in an error, not in memory exhaustion.
    let limit = compose::DEFAULT_MAX_ATTACHMENTS;
    let too_large = |what: String| format!("{what}: larger than {} MB", limit / (1024 * 1024));
    let body = match &args.body_file {
        // A pipe or /dev/null is a fine body (unlike an attachment): only the amount is bounded.
        Some(path) => std::fs::File::open(path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|f| read_text(f, limit, &path.display().to_string(), too_large)),
        None => read_text(std::io::stdin(), limit, "stdin", too_large),
    }
    .map_err(|detail| explain::simple(fl!("err-body", detail = detail), EXIT_USAGE))?;
    let draft = Draft {
        from_address: config.account.address.clone(),
        from_name: config.account.display_name.clone(),
        to: args.to.clone(),
        cc: args.cc.clone(),
        bcc: args.bcc.clone(),
        subject: args.subject.clone(),
        body,
        attachments: args.attach.clone(),
        charset: match args.charset.as_deref() {
            Some("iso-2022-jp") => compose::Charset::Iso2022Jp,
            Some(_) => compose::Charset::Utf8,
            None => config.account.charset,
        },
    };
    let built = compose::build(&draft, clock.now()).map_err(|e| explain::failure(&e))?;
    Ok((built, draft.subject.clone(), draft.listed_recipients()))
}

async fn auth(d: &Deliverer<'_>, config: &Config, source: Source, clock: &dyn Clock) -> Result<u8, Failed> {
    let login = d.login_only().await.map_err(|e| explain::failure(&e))?;
    say!("{}", fl!("password-from", source = source_name(source)));
    say!("{}", fl!("login-ok", method = login.method.name(), server = login.peer.to_string()));
    let window = RelayWindow { opened: login.at, length: Duration::from_secs(config.relay.window_seconds) };
    say!("{}", window_line(&window, clock.now()));
    Ok(EXIT_OK)
}

/// `guide [CLIENT]`: with no words, every client by era; with words, the matching guides in full
/// (exit 1 when none matches, after the list).
fn guide(query: &str) -> u8 {
    use crate::text::guides::{self, Era};
    let all = guides::all(&crate::text::i18n::current());
    let found = guides::find(&all, query);
    if !query.trim().is_empty() && !found.is_empty() {
        for (i, g) in found.iter().enumerate() {
            if i > 0 {
                say!();
            }
            say_raw!("{}", g.text());
        }
        return EXIT_OK;
    }
    if !query.trim().is_empty() {
        tell!("{}", fl!("guide-none", query = query));
    }
    for (era, title) in [
        (Era::Basics, fl!("guide-era-basics")),
        (Era::Today, fl!("guide-era-today")),
        (Era::Reference, fl!("guide-era-reference")),
        (Era::Errors, fl!("guide-era-errors")),
    ] {
        say!("{title}");
        for g in all.iter().filter(|g| g.era == era) {
            say!("  {:<24} {}", g.id, g.name);
        }
    }
    say!("{}", fl!("guide-how"));
    if query.trim().is_empty() { EXIT_OK } else { EXIT_FAILED }
}

/// `diagnose`: each step printed as it ends; exit 0 when all passed, 1 otherwise.
fn diagnose(
    runtime: &tokio::runtime::Runtime,
    config: &Config,
    password: Option<&secrets::Password>,
    trust: &TrustAnchors,
    clock: &dyn Clock,
    store: &knowledge::Store,
    skip_login: bool,
) -> u8 {
    use crate::core::setup::diagnose::{self, Options};
    say!("{}", fl!("diag-title", account = config.account.address.as_str()));
    let options = Options { skip_login, ..Options::default() };
    let mut i = 0;
    let steps = runtime.block_on(diagnose::run(config, password, trust, clock, store, &options, &mut |r| {
        say_raw!("{}", crate::text::words::diagnose_step(i, r));
        let _ = std::io::stdout().flush();
        i += 1;
    }));
    say!("{}", crate::text::words::diagnose_verdict(&steps));
    if crate::text::words::diagnose_passed(&steps) { EXIT_OK } else { EXIT_FAILED }
}

fn status(config: &Config, store: &knowledge::Store, clock: &dyn Clock) {
    let (state, ignored) = store.load_checked();
    for line in ignored {
        tell!("{}", fl!("state-line-ignored", file = store.path().display().to_string(), line = line));
    }
    let server = format!("{}:{}", config.pop.host, config.pop.port());
    let length = Duration::from_secs(config.relay.window_seconds);
    match (state.window(&server, length), &state.last_login) {
        (Some(w), Some(last)) => {
            say!(
                "{}",
                fl!("last-login", at = local_time(w.opened), server = server.as_str(), peer = last.peer.to_string())
            );
            say!("{}", window_line(&w, clock.now()));
        }
        _ => say!("{}", fl!("window-never")),
    }
}

fn window_line(w: &RelayWindow, now: SystemTime) -> String {
    let left = w.remaining(now);
    if left.is_zero() {
        fl!("window-expired", at = local_time(w.closes()))
    } else {
        fl!("window-open", remaining = crate::text::words::mm_ss(left), until = local_time(w.closes()))
    }
}

/// "09:42": minutes may exceed 59 for long windows.
fn local_time(t: SystemTime) -> String {
    crate::text::words::local_time(t, "%Y-%m-%d %H:%M:%S")
}

fn source_name(s: Source) -> String {
    match s {
        Source::Env => fl!("source-env"),
        Source::Command => fl!("source-command"),
        Source::Keyring => fl!("source-keyring"),
        Source::File => fl!("source-file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_format() {
        assert_eq!(crate::text::words::mm_ss(Duration::from_secs(582)), "09:42");
        assert_eq!(crate::text::words::mm_ss(Duration::from_secs(0)), "00:00");
        assert_eq!(crate::text::words::mm_ss(Duration::from_millis(59_900)), "00:59");
    }

    #[test]
    fn help_is_localized_and_consistent() {
        crate::text::i18n::init(Some("ja"));
        command().debug_assert();
    }
}
