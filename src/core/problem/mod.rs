//! What can go wrong, typed once: the kinds a user is told about (`kind`, a leaf), a send run's
//! error (`run_error`) and the one classifier from any error to a kind with its server reply
//! (`classify`).

pub mod classify;
pub mod kind;
pub mod run_error;
