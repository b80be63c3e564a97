//! `cargo xtask`: the gobench command line.

mod upload;

use clap::{Parser, Subcommand};

/// Build, benchmark and track Go toolchains
#[derive(Debug, Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Upload(upload::Upload),
    HorreumSetup(upload::HorreumSetup),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let sh = xshell::Shell::new()?;
    match cli.command {
        Command::Upload(cmd) => cmd.run(&sh),
        Command::HorreumSetup(cmd) => cmd.run(&sh),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
