//! Setting an account up: the config file (`account`), provider presets (`presets`), finding a
//! domain's servers (`discover`) and the step-by-step connection test (`diagnose`).

pub mod account;
pub mod diagnose;
pub mod discover;
pub mod presets;
