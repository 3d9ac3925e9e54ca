//! The one integration-test binary (one link on a 2-core machine): the CLI without servers,
//! scripted peers for faults real servers cannot be made to show, and the real servers.

mod accounts;
mod cli;
mod clients;
mod cpu_window;
mod diagnose;
mod discover;
mod engine_loop;
mod gui;
mod hostile;
mod op25b;
mod outbox_faults;
mod outbox_real;
mod packaging;
mod peers;
mod pop_matrix;
mod real_servers;
mod scripted;
mod support;
mod window;
