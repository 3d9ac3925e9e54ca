//! The command line's shape: the subcommands and their arguments (clap), their help in the
//! user's language, and clap's own errors in the user's words. It runs nothing.

use std::path::PathBuf;

use clap::{Args, CommandFactory as _, Parser, Subcommand};

use crate::fl;

#[derive(Parser, Debug)]
#[command(name = "popsend", version)]
pub(super) struct Cli {
    #[arg(long, global = true, value_name = "FILE")]
    pub(super) config: Option<PathBuf>,
    #[arg(long, global = true, value_name = "DIR")]
    pub(super) data_dir: Option<PathBuf>,
    /// The account (its name or address; default: the first account).
    #[arg(long, global = true, value_name = "NAME")]
    pub(super) account: Option<String>,
    #[command(subcommand)]
    pub(super) command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub(super) enum Command {
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
pub(super) struct SendmailArgs {
    #[arg(short = 't')]
    pub(super) from_headers: bool,
    #[arg(short = 'i')]
    pub(super) ignore_dots: bool,
    #[arg(short = 'o', value_name = "OPTION")]
    pub(super) options: Vec<String>,
    #[arg(short = 'f', value_name = "ADDR")]
    pub(super) sender: Option<String>,
    #[arg(short = 'F', value_name = "NAME")]
    pub(super) full_name: Option<String>,
    #[arg(value_name = "ADDR")]
    pub(super) recipients: Vec<String>,
}

#[derive(Args, Debug)]
pub(super) struct GuideArgs {
    /// Words to look for (a client's name or id); none lists every client.
    pub(super) client: Vec<String>,
}

#[derive(Args, Debug)]
pub(super) struct DiagnoseArgs {
    #[arg(long)]
    pub(super) skip_login: bool,
}

#[derive(Args, Debug)]
pub(super) struct ServeArgs {
    #[arg(long)]
    pub(super) at_login: bool,
}

#[derive(Args, Debug)]
pub(super) struct WatchArgs {
    #[arg(long)]
    pub(super) until_empty: bool,
}

#[derive(Args, Debug)]
pub(super) struct SendArgs {
    #[arg(long, value_name = "ADDR", required = true)]
    pub(super) to: Vec<String>,
    #[arg(long, value_name = "ADDR")]
    pub(super) cc: Vec<String>,
    #[arg(long, value_name = "ADDR")]
    pub(super) bcc: Vec<String>,
    #[arg(long, value_name = "TEXT")]
    pub(super) subject: String,
    #[arg(long, value_name = "FILE")]
    pub(super) body_file: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub(super) attach: Vec<PathBuf>,
    #[arg(long)]
    pub(super) later: bool,
    /// 送信予約: "2026-12-08 08:30" (local time).
    #[arg(long, value_name = "WHEN", conflicts_with = "later")]
    pub(super) at: Option<String>,
    #[arg(long, value_name = "CHARSET", value_parser = ["utf-8", "iso-2022-jp"])]
    pub(super) charset: Option<String>,
}

#[derive(Args, Debug)]
pub(super) struct IdArg {
    pub(super) id: i64,
}

/// clap's own words (headings, the help and version flags, "[OPTIONS]") in the user's language;
/// `name` is the subcommand's (empty for popsend itself).
pub(super) fn localized(cmd: clap::Command, name: &str) -> clap::Command {
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
pub(super) fn command() -> clap::Command {
    let id = |s: clap::Command, about: String| s.about(about).mut_arg("id", |a| a.help(fl!("cli-id-help")));
    let cmd = Cli::command()
        .about(fl!("cli-about"))
        .mut_arg("config", |a| a.help(fl!("cli-config-help")))
        .mut_arg("data_dir", |a| a.help(fl!("cli-data-dir-help")))
        .mut_arg("account", |a| a.help(fl!("cli-account-help")))
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
                .mut_arg("at", |a| a.help(fl!("cli-at-help")))
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

/// A mistake in the arguments, in the user's language (clap's own words are English): what is
/// wrong, with the argument or value as typed, and where the help is.
pub(super) fn usage_error(e: &clap::Error) -> String {
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
