//! `vigor`: the one binary of the platform.
//!
//! Like Loki and Mimir, one binary runs every *target*: `vigor serve` runs
//! everything in one process on embedded storage; `vigor serve --target users` runs
//! one service against the configured servers; `--target gateway` runs the edge and
//! proxies to the services. This file parses the command line; [`serve`] wires the
//! targets, and nothing else in the workspace knows which mode it runs in.

mod admin;
mod backup;
mod cli;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::run(cli)
}
