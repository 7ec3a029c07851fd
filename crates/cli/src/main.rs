//! `portcullis`: the server and its admin CLI in one binary. Thin: parsing and
//! printing here, the work in the library crates.

mod commands;
mod config;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::commands::Command;
use crate::config::GlobalArgs;

#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about = "Portcullis: an OAuth 2.0 authorization server")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.global, cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
