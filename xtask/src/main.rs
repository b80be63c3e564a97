//! `cargo xtask`: the command-line shell around `gobench-core`.
//!
//! Parses flags, changes to the project root and dispatches; each subcommand
//! lives in its own module.

mod bench;
mod build;
mod compare;
mod demo;
mod detect;
mod doctor;
mod export;
mod flags;
mod gen;
mod git;
mod host;
mod lock;
mod monitor;
mod paths;
mod podman;
mod report;
mod run;
mod select;
mod upload;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(flags: flags::Xtask) -> anyhow::Result<()> {
    let sh = xshell::Shell::new()?;
    let paths = paths::Paths::new(flags.global.config.as_deref())?;
    match flags.cmd {
        flags::Cmd::Lock(cmd) => cmd.run(&sh, &paths),
        flags::Cmd::Gen(cmd) => cmd.run(&paths),
        flags::Cmd::Build(cmd) => cmd.run(&paths),
        flags::Cmd::Upload(cmd) => cmd.run(&sh, &paths),
        flags::Cmd::HorreumSetup(cmd) => cmd.run(&paths),
        flags::Cmd::Bench(cmd) => cmd.run(&paths),
        flags::Cmd::Run(cmd) => cmd.run(),
        flags::Cmd::Compare(cmd) => cmd.run(&paths),
        flags::Cmd::Detect(cmd) => cmd.run(&paths),
        flags::Cmd::Report(cmd) => cmd.run(&paths),
        flags::Cmd::Export(cmd) => cmd.run(&paths),
        flags::Cmd::Doctor(cmd) => cmd.run(&paths),
        flags::Cmd::Demo(cmd) => cmd.run(&paths),
        flags::Cmd::Bisect(_) | flags::Cmd::Reproduce(_) | flags::Cmd::Serve(_) => {
            anyhow::bail!("this command is not implemented yet; see the open issues")
        }
    }
}
