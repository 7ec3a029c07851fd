//! `portcullis`: the server and its admin CLI in one binary. Thin: parsing and
//! printing here, the work in the library crates.

mod commands;
mod config;
mod master_key;
mod output;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

use crate::commands::Command;
use crate::config::GlobalArgs;

/// mimalloc rather than glibc's malloc: a request allocates and frees many small
/// blocks, and glibc's free lists and consolidation showed in every profile of the
/// token endpoint (the A/B is in bench/README.md, "Profiling").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Scripts rely on `--json` everywhere (README, "Commands").
    #[test]
    fn every_subcommand_takes_json() {
        fn leaves(cmd: &clap::Command, path: String, out: &mut Vec<(String, bool)>) {
            let subs: Vec<_> = cmd.get_subcommands().filter(|c| c.get_name() != "help").collect();
            if subs.is_empty() {
                out.push((path, cmd.get_arguments().any(|a| a.get_long() == Some("json"))));
                return;
            }
            for sub in subs {
                leaves(sub, format!("{path} {}", sub.get_name()), out);
            }
        }
        let mut found = Vec::new();
        leaves(&Cli::command(), "portcullis".into(), &mut found);
        assert!(found.len() > 20, "{found:?}");
        let missing: Vec<_> = found.iter().filter(|(_, has)| !has).map(|(p, _)| p.as_str()).collect();
        assert!(missing.is_empty(), "subcommands without --json: {missing:?}");
    }
}
