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

mod explain;
mod outbox_view;

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

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

#[derive(Parser, Debug)]
#[command(name = "popsend", version)]
struct Cli {
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    Send(SendArgs),
    Auth,
    Status,
    Queue,
    Sent,
    Show(IdArg),
    Flush,
    Retry(IdArg),
    Delete(IdArg),
    Watch(WatchArgs),
    Diagnose(DiagnoseArgs),
    Guide(GuideArgs),
    Sendmail(SendmailArgs),
    Serve(ServeArgs),
    /// Any other word: a `mailto:` link to open in 作成 (what a browser or the desktop hands
    /// over), or a mistake.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

/// sendmail's calling convention, as mutt, git send-email and scripts use it.
#[derive(Args, Debug)]
struct SendmailArgs {
    #[arg(short = 't')]
    from_headers: bool,
    #[arg(short = 'i')]
    ignore_dots: bool,
    #[arg(short = 'o', value_name = "OPTION")]
    options: Vec<String>,
    #[arg(short = 'f', value_name = "ADDR")]
    sender: Option<String>,
    #[arg(short = 'F', value_name = "NAME")]
    full_name: Option<String>,
    #[arg(value_name = "ADDR")]
    recipients: Vec<String>,
}

#[derive(Args, Debug)]
struct GuideArgs {
    /// Words to look for (a client's name or id); none lists every client.
    client: Vec<String>,
}

#[derive(Args, Debug)]
struct DiagnoseArgs {
    #[arg(long)]
    skip_login: bool,
}

#[derive(Args, Debug)]
struct ServeArgs {
    #[arg(long)]
    at_login: bool,
}

#[derive(Args, Debug)]
struct WatchArgs {
    #[arg(long)]
    until_empty: bool,
}

#[derive(Args, Debug)]
struct SendArgs {
    #[arg(long, value_name = "ADDR", required = true)]
    to: Vec<String>,
    #[arg(long, value_name = "ADDR")]
    cc: Vec<String>,
    #[arg(long, value_name = "ADDR")]
    bcc: Vec<String>,
    #[arg(long, value_name = "TEXT")]
    subject: String,
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    attach: Vec<PathBuf>,
    #[arg(long)]
    later: bool,
    #[arg(long, value_name = "CHARSET", value_parser = ["utf-8", "iso-2022-jp"])]
    charset: Option<String>,
}

#[derive(Args, Debug)]
struct IdArg {
    id: i64,
}

/// clap's own words (headings, the help and version flags, "[OPTIONS]") in the user's language;
/// `name` is the subcommand's (empty for popsend itself).
fn localized(cmd: clap::Command, name: &str) -> clap::Command {
    use clap::{Arg, ArgAction};
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{}: {{usage}}\n\n{{all-args}}{{after-help}}",
        fl!("cli-heading-usage")
    );
    let mut cmd = cmd
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .arg(Arg::new("help").short('h').long("help").action(ArgAction::Help).help(fl!("cli-help-help")))
        .help_template(template)
        .subcommand_help_heading(fl!("cli-heading-commands"))
        .subcommand_value_name(fl!("cli-command-name"))
        .mut_args(|a| {
            let heading = if a.is_positional() { fl!("cli-heading-arguments") } else { fl!("cli-heading-options") };
            a.help_heading(heading)
        });
    if !name.is_empty() {
        // Its usage line as clap writes it, with clap's English placeholder in our words.
        let mut probe = cmd.clone().bin_name(format!("popsend {name}"));
        let usage = probe.render_usage().to_string();
        let usage = usage
            .split_once(": ")
            .map_or(usage.as_str(), |(_, u)| u)
            .replace("[OPTIONS]", &format!("[{}]", fl!("cli-options-name")));
        cmd = cmd.override_usage(usage);
    }
    cmd
}

/// The clap command with every description taken from the localized messages.
fn command() -> clap::Command {
    let id = |s: clap::Command, about: String| s.about(about).mut_arg("id", |a| a.help(fl!("cli-id-help")));
    let cmd = Cli::command()
        .about(fl!("cli-about"))
        .mut_arg("config", |a| a.help(fl!("cli-config-help")))
        .mut_arg("data_dir", |a| a.help(fl!("cli-data-dir-help")))
        .override_usage(fl!("cli-usage-root"))
        .after_help(fl!("cli-url-help"))
        .mut_subcommand("send", |s| {
            s.about(fl!("cli-send-about"))
                .mut_arg("to", |a| a.help(fl!("cli-to-help")))
                .mut_arg("cc", |a| a.help(fl!("cli-cc-help")))
                .mut_arg("bcc", |a| a.help(fl!("cli-bcc-help")))
                .mut_arg("subject", |a| a.help(fl!("cli-subject-help")))
                .mut_arg("body_file", |a| a.help(fl!("cli-body-file-help")))
                .mut_arg("attach", |a| a.help(fl!("cli-attach-help")))
                .mut_arg("later", |a| a.help(fl!("cli-later-help")))
                .mut_arg("charset", |a| a.help(fl!("cli-charset-help")).hide_possible_values(true))
        })
        .mut_subcommand("auth", |s| s.about(fl!("cli-auth-about")))
        .mut_subcommand("status", |s| s.about(fl!("cli-status-about")))
        .mut_subcommand("queue", |s| s.about(fl!("cli-queue-about")))
        .mut_subcommand("sent", |s| s.about(fl!("cli-sent-about")))
        .mut_subcommand("show", |s| id(s, fl!("cli-show-about")))
        .mut_subcommand("flush", |s| s.about(fl!("cli-flush-about")))
        .mut_subcommand("retry", |s| id(s, fl!("cli-retry-about")))
        .mut_subcommand("delete", |s| id(s, fl!("cli-delete-about")))
        .mut_subcommand("guide", |s| {
            s.about(fl!("cli-guide-about")).mut_arg("client", |a| a.help(fl!("cli-guide-client-help")))
        })
        .mut_subcommand("diagnose", |s| {
            s.about(fl!("cli-diagnose-about")).mut_arg("skip_login", |a| a.help(fl!("cli-skip-login-help")))
        })
        .mut_subcommand("watch", |s| {
            s.about(fl!("cli-watch-about")).mut_arg("until_empty", |a| a.help(fl!("cli-until-empty-help")))
        })
        .mut_subcommand("serve", |s| {
            s.about(fl!("cli-serve-about"))
                .after_help(fl!("cli-serve-after"))
                .mut_arg("at_login", |a| a.help(fl!("cli-at-login-help")))
        })
        .mut_subcommand("sendmail", |s| {
            s.about(fl!("cli-sendmail-about"))
                .after_help(fl!("cli-sendmail-after"))
                .mut_arg("from_headers", |a| a.help(fl!("cli-sendmail-t-help")))
                .mut_arg("ignore_dots", |a| a.help(fl!("cli-sendmail-i-help")))
                .mut_arg("options", |a| a.help(fl!("cli-sendmail-o-help")))
                .mut_arg("sender", |a| a.help(fl!("cli-sendmail-f-help")))
                .mut_arg("full_name", |a| a.help(fl!("cli-sendmail-name-help")))
                .mut_arg("recipients", |a| a.help(fl!("cli-sendmail-rcpt-help")))
        });
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    let mut cmd = localized(cmd, "").arg(
        clap::Arg::new("version")
            .short('V')
            .long("version")
            .action(clap::ArgAction::Version)
            .help(fl!("cli-version-help"))
            .help_heading(fl!("cli-heading-options")),
    );
    for name in names {
        cmd = cmd.mut_subcommand(&name, |s| localized(s, &name));
    }
    cmd
}

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
    let code = match run(command, &paths) {
        Ok(code) => code,
        Err(explained) => {
            tell_raw!("{}", explained.render());
            explained.exit
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

/// A mistake in the arguments, in the user's language (clap's own words are English): what is
/// wrong, with the argument or value as typed, and where the help is.
fn usage_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind: ContextKind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let said = match e.kind() {
        ErrorKind::UnknownArgument => fl!("cli-err-unknown-argument", arg = context(ContextKind::InvalidArg)),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let valid = context(ContextKind::ValidValue);
            let value = context(ContextKind::InvalidValue);
            let arg = context(ContextKind::InvalidArg);
            match (value.is_empty(), valid.is_empty()) {
                (true, _) => fl!("cli-err-missing-value", arg = arg),
                (false, true) => fl!("cli-err-invalid-value", value = value, arg = arg),
                (false, false) => fl!("cli-err-invalid-value-one-of", value = value, arg = arg, valid = valid),
            }
        }
        ErrorKind::MissingRequiredArgument => fl!("cli-err-missing", arg = context(ContextKind::InvalidArg)),
        ErrorKind::ArgumentConflict => {
            fl!("cli-err-conflict", arg = context(ContextKind::InvalidArg), other = context(ContextKind::PriorArg))
        }
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            fl!("cli-err-values", arg = context(ContextKind::InvalidArg))
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            fl!("cli-err-missing-command")
        }
        // Anything rarer: clap's own sentence, under a line the user can read.
        _ => format!("{}\n{}", fl!("cli-err-other"), e.kind()),
    };
    format!("{said}\n{}", fl!("cli-err-see-help"))
}

/// popsend.exe is a GUI program on Windows (no console window behind the app); typed in a
/// console, it writes to that console as a console program would.
#[cfg(windows)]
fn attach_console() {
    unsafe extern "system" {
        fn AttachConsole(process_id: u32) -> i32;
    }
    const ATTACH_PARENT_PROCESS: u32 = u32::MAX;
    // SAFETY: a plain Win32 call; failing (no parent console, e.g. a double-click) changes nothing.
    unsafe { AttachConsole(ATTACH_PARENT_PROCESS) };
}

/// No command: the window, with 作成 filled when a `mailto:` URL was given. If a window already
/// has this data folder, the request goes to it (it comes to the front) and this process ends.
fn window(url: Option<&str>, paths: Paths) -> ExitCode {
    use crate::core::system::instance::{self, Claim, ClaimError, Handover};
    let mailto = match url.map(crate::core::message::mailto::parse).transpose() {
        Ok(m) => m,
        Err(crate::core::message::mailto::MailtoError::NotMailto) => {
            tell!("{}", fl!("err-unknown-word", word = crate::core::display_safe(url.unwrap_or_default())));
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            tell!("{}", fl!("err-mailto", detail = e.to_string()));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Whether a window can be made is known before the folder is claimed: a claim asks a running
    // `popsend serve` to step aside, and with no window to take over its port would just close.
    let request = url.map_or(Handover::Show, |u| Handover::Mailto(u.to_owned()));
    if !has_display() {
        // A window of this folder (on the desktop, started before) still takes the request.
        #[cfg(unix)]
        if instance::hand_over_to_window(&paths.data_dir, &request).unwrap_or(false) {
            return ExitCode::from(EXIT_OK);
        }
        say!("{}\n", fl!("cli-gui-later"));
        let _ = command().print_help();
        return ExitCode::from(if mailto.is_some() { EXIT_FAILED } else { EXIT_OK });
    }
    let listener = match instance::claim(&paths.data_dir, &request) {
        Ok(Claim::HandedOver | Claim::Held) => return ExitCode::from(EXIT_OK),
        Ok(Claim::First(l)) => Some(l),
        Err(e @ (ClaimError::NoAnswer(_) | ClaimError::NotYielded)) => {
            tell!("{}", fl!("err-instance-no-answer", detail = e.to_string()));
            return ExitCode::from(EXIT_FAILED);
        }
        // The folder cannot be claimed (unwritable, …): the window opens and says what is wrong.
        Err(ClaimError::Io(_)) => None,
    };
    match crate::app::run(paths.clone(), listener, mailto) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            tell!("{}", fl!("gui-cannot-open", detail = e));
            // The claim may have asked a background server to step aside (it is let go now):
            // where one belongs (the login entry's kind), it is started again so the port does
            // not stay closed.
            if Config::load(&paths.config_file).is_ok_and(|c| c.submission.enabled && c.app.autostart)
                && let Ok(exe) = std::env::current_exe()
            {
                let _ = std::process::Command::new(exe)
                    .args(crate::core::system::autostart::arguments(&paths))
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
            }
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Whether a window can be opened (on Linux: an X11 or Wayland display is set).
fn has_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

fn open_outbox(paths: &Paths) -> Result<Outbox, Failed> {
    Outbox::open(&paths.data_dir).map_err(|e| explain::failure(&e))
}

fn run(command: Command, paths: &Paths) -> Result<u8, Failed> {
    let config = Config::load(&paths.config_file).map_err(|e| explain::failure(&e))?;
    // The language chosen in 設定, unless POPSEND_LANG says otherwise.
    if let (None, Some(lang)) = (std::env::var_os("POPSEND_LANG"), &config.app.language) {
        crate::text::i18n::init(Some(lang));
    }
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
        let (out, subject, to) = build(args, &config, &clock)?;
        let ob = open_outbox(paths)?;
        let id = ob.enqueue(&out, &subject, &to, clock.now()).map_err(|e| explain::failure(&e))?;
        say!("{}", fl!("queued-one", id = id, msgid = out.message_id.as_str()));
        if args.later {
            return Ok(EXIT_OK);
        }
        outbox = Some(ob);
        queued = Some(id);
    }
    if let Command::Sendmail(args) = &command {
        // The message as the program wrote it, stored before anything else happens.
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::io::stdin(), crate::core::message::submission::MAX_MESSAGE as u64 + 1),
            &mut raw,
        )
        .map_err(|e| explain::simple(fl!("err-body", detail = format!("stdin: {e}")), EXIT_USAGE))?;
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
        let password = secrets::resolve(&config.pop).ok().map(|(p, _)| p);
        return Ok(diagnose(&runtime, &config, password.as_ref(), &trust, &clock, &store, *skip_login));
    }
    let (password, source) = secrets::resolve(&config.pop).map_err(|e| explain::failure(&e))?;
    // `serve` claims the data folder as a window does, before the runtime runs: the claim may
    // wait (a window that is closing) and, on Windows, runs a runtime of its own.
    let folder = match &command {
        Command::Serve(_) => Some(claim_for_server(paths)?),
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
                    serve(&Host::new(&paths.data_dir, &ob, &d), folder, &stop, at_login).await
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

type Commands = (tokio::sync::mpsc::Sender<engine::Command>, tokio::sync::mpsc::Receiver<engine::Command>);

/// The engine until Ctrl-C or SIGTERM (or, with `until_empty`, until nothing waits), with
/// `alongside` running beside it (the submission server for `serve`).
async fn watch(
    host: &Host<'_>,
    stop: &AtomicBool,
    until_empty: bool,
    (tx, rx): Commands,
    alongside: impl std::future::Future<Output = ()>,
) -> Result<u8, Failed> {
    let (ob, d) = (host.outbox, host.deliverer);
    let done = tx.clone();
    // With --until-empty (the window's "keep sending in the background"): leave once nothing is
    // queued or being sent; messages that failed for good stay for the user to see.
    let nothing_waits = || ob.counts().is_ok_and(|c| c.queued == 0 && c.sending == 0);
    if until_empty && nothing_waits() {
        return Ok(EXIT_OK);
    }
    // A queue paused under these settings sends nothing until the user acts: waiting for it to
    // empty would never end (this is the process the window leaves running on close).
    if until_empty
        && let Ok(Some(p)) = ob.paused()
        && p.config == d.config.fingerprint
    {
        tell!("{}", fl!("paused", reason = crate::text::words::reason(p.error.kind)));
        tell!("  {}", fl!("paused-hint"));
        return Ok(EXIT_FAILED);
    }
    let exit = std::cell::Cell::new(EXIT_OK);
    // Ctrl-C (or SIGTERM): finish the message in flight, then leave.
    let signals = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} },
            // No SIGTERM handler to be had: Ctrl-C still works.
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        stop.store(true, Ordering::SeqCst);
        let _ = tx.send(engine::Command::Shutdown).await;
        std::future::pending::<()>().await
    };
    say!("{}", fl!("watch-start"));
    let _ = std::io::stdout().flush();
    let work = host.engine(rx, |event| {
        match event {
            engine::Event::Flushed(f) => {
                outbox_view::report_flush(&f, d.clock);
                if until_empty && f.paused.is_some() {
                    exit.set(EXIT_FAILED);
                    let _ = done.try_send(engine::Command::Shutdown);
                }
                if until_empty && nothing_waits() {
                    let _ = done.try_send(engine::Command::Shutdown);
                }
            }
            engine::Event::Woken(n) => say!("{}", fl!("watch-woken", count = n)),
            engine::Event::Error(e) => tell_raw!("{}", explain::failure(&e).render()),
            // Nothing sends these without a command, and the window's state is in each flush.
            engine::Event::LoggedIn(_)
            | engine::Event::LoginFailed(_)
            | engine::Event::Snapshot(_)
            | engine::Event::Edited(..) => {}
        }
        let _ = std::io::stdout().flush();
    });
    tokio::select! { _ = work => {}, _ = signals => {}, _ = alongside => {} }
    say!("{}", fl!("watch-stop"));
    Ok(exit.get())
}

/// `popsend serve`: the submission server on loopback beside the engine. Each message a program
/// hands over is in the outbox before it hears 250, and the engine is nudged to send it. It runs
/// only while no window has the data folder, and steps aside (the message in flight finished,
/// the sessions in progress answered) when a window opens. `at_login` (the login entry): without
/// `[submission] enabled`, it sends what waits and ends, as `watch --until-empty`.
async fn serve(
    host: &Host<'_>,
    folder: crate::core::system::instance::Listener,
    stop: &AtomicBool,
    at_login: bool,
) -> Result<u8, Failed> {
    use crate::core::protocol::smtpd;
    use crate::core::sending::host::SubmissionProblem;
    let s = &host.deliverer.config.submission;
    let cue = std::sync::Arc::new(tokio::sync::Notify::new());
    let heard = cue.clone();
    folder.set_wake(std::sync::Arc::new(move || heard.notify_one()));
    let commands = tokio::sync::mpsc::channel(16);
    let shutdown = commands.0.clone();
    if at_login && !s.enabled {
        return watch(host, stop, true, commands, step_aside(cue.notified(), stop, shutdown)).await;
    }
    let server = host.open_submission().await.map_err(|problem| match problem {
        SubmissionProblem::Port(taken) => explain::simple(crate::text::words::port_taken(s.port, &taken), EXIT_FAILED),
        SubmissionProblem::Login(detail) => explain::simple(fl!("err-serve-login", detail = detail), EXIT_FAILED),
        SubmissionProblem::Outbox(detail) => {
            explain::simple(format!("{} ({detail})", fl!("err-outbox-write")), EXIT_FAILED)
        }
    })?;
    let login_file = host.data_dir.join(smtpd::LOGIN_FILE).display().to_string();
    if server.login.as_ref().is_some_and(|l| l.renewed) {
        tell!("{}", fl!("serve-login-renewed", file = login_file.as_str()));
    }
    match server.login {
        Some(_) => say!("{}", fl!("serve-start", port = s.port, login = login_file.as_str())),
        // `require_auth = false`: no password file to point to.
        None => say!("{}", fl!("serve-start-open", port = s.port)),
    }
    // The sessions in progress are answered before the engine stops: they may wait on it.
    let alongside = step_aside(host.serve(server, commands.0.clone(), cue.notified()), stop, shutdown);
    let exit = watch(host, stop, false, commands, alongside).await;
    drop(folder);
    exit
}

/// The data folder for `popsend serve`, or `None` (said) when a window or another server has it.
fn claim_for_server(paths: &Paths) -> Result<Option<crate::core::system::instance::Listener>, Failed> {
    use crate::core::system::instance::{self, Claim};
    match instance::claim_for_server(&paths.data_dir, std::time::Duration::from_secs(5)) {
        Ok(Claim::First(folder)) => Ok(Some(folder)),
        Ok(Claim::Held | Claim::HandedOver) => {
            tell!("{}", fl!("serve-held", folder = paths.data_dir.display().to_string()));
            Ok(None)
        }
        Err(e) => Err(explain::simple(fl!("err-instance-no-answer", detail = e.to_string()), EXIT_FAILED)),
    }
}

/// After `before` (the window's cue, or the submission server closed on it): the message in
/// flight is finished and the engine stops, so the window can have the folder and the port.
async fn step_aside(
    before: impl std::future::Future<Output = ()>,
    stop: &AtomicBool,
    shutdown: tokio::sync::mpsc::Sender<engine::Command>,
) {
    before.await;
    say!("{}", fl!("serve-yield"));
    stop.store(true, Ordering::SeqCst);
    let _ = shutdown.send(engine::Command::Shutdown).await;
    std::future::pending::<()>().await
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
