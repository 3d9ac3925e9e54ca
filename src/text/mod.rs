//! The text layer: every word a user reads. `i18n` loads the Fluent messages (`i18n/ja`, the
//! reference, and `i18n/en`) and gives `fl!`; `words` turns the core's typed values (kinds,
//! states, times, ports) into sentences; `guides` holds the per-program setup guides
//! (`assets/guides`). Nothing here does I/O beyond reading its own embedded files, and the core
//! never calls it: the CLI and the window do.

pub mod guides;
pub mod i18n;
pub mod words;
