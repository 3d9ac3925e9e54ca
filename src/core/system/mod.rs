//! What popsend asks of the operating system: time (`clock`, injectable), files written atomically
//! and privately (`files`), one window or server per data folder (`instance`), the password from
//! the keyring, a command or the environment (`secrets`) and the login entry (`autostart`).

pub mod autostart;
pub mod clock;
pub mod files;
pub mod instance;
pub mod secrets;
