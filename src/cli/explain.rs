//! The command line's failures: what the words layer says for the failure's kind (headline,
//! the server's reply, the detail, the next step) and the exit code the kind gives. Prints
//! nothing; classifies nothing.

use crate::core::problem::classify::Failure;
use crate::core::problem::kind::Described;
pub use crate::core::problem::kind::{EXIT_FAILED, EXIT_OK, EXIT_TEMPORARY, EXIT_USAGE};
use crate::text::words::{self, Explained};

/// A failure that ends a command.
#[derive(Debug)]
pub struct Failed {
    pub explained: Explained,
    pub exit: u8,
}

impl Failed {
    pub fn render(&self) -> String {
        self.explained.render()
    }
}

/// Any core error, explained by its kind.
pub fn failure<'a>(e: impl Into<Failure<'a>>) -> Failed {
    described(&Described::of(e))
}

pub fn described(d: &Described) -> Failed {
    Failed { explained: words::explain(d), exit: d.kind.exit_code() }
}

/// A failure of the command line itself (no such message, an unreadable body).
pub fn simple(headline: String, exit: u8) -> Failed {
    Failed { explained: Explained { headline, reply: None, detail: None, next: None, page: None }, exit }
}
