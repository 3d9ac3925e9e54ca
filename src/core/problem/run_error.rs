//! `RunError`: what stopped a whole send run (the network, the POP login, the SMTP session, no
//! password, relaying refused after a fresh login, every SMTP port silent). Its own module, so
//! `classify::classify` can know it without depending on the send path that produces it. No
//! wording here, no I/O.

use crate::protocol::net::NetError;
use crate::protocol::pop3::Pop3Error;
use crate::protocol::smtp::SmtpError;

/// A failure that stopped the whole run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Net(NetError),
    #[error(transparent)]
    Pop3(Pop3Error),
    #[error(transparent)]
    Smtp(SmtpError),
    /// No password could be found: nothing was tried.
    #[error("no password: nothing was sent to the server")]
    NoPassword,
    /// Relay still refused after logging in again.
    #[error("relay still refused after a fresh POP login")]
    RelayDenied {
        #[source]
        refusal: SmtpError,
    },
    /// The POP login worked (the network is up) but no SMTP port of the server answered: the
    /// configured one, nor any other tried (`ports`). A provider blocking them (OP25B).
    #[error("the POP login worked, but no SMTP port of {host} answered (tried {ports})")]
    PortsSilent {
        host: String,
        ports: String,
        #[source]
        last: SmtpError,
    },
}

impl RunError {
    pub fn server_reply(&self) -> Option<&str> {
        match self {
            RunError::Net(_) | RunError::NoPassword => None,
            RunError::Pop3(e) => e.server_reply(),
            RunError::Smtp(e) | RunError::RelayDenied { refusal: e } | RunError::PortsSilent { last: e, .. } => {
                e.server_reply()
            }
        }
    }
}
