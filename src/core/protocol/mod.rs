//! The wire protocols: name resolution, TCP and TLS (`net`), our own POP3 client (`pop3`), SMTP
//! sending over lettre's connection (`smtp`) and the local submission server (`smtpd`). They speak
//! to one server each and know nothing of the outbox or the relay window's bookkeeping.

pub mod net;
pub mod pop3;
pub mod smtp;
pub mod smtpd;
