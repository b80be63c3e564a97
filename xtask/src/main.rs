//! `cargo xtask`: the command-line shell around `gobench-core`.
//!
//! Parses flags, finds the project's paths and dispatches to the library;
//! each subcommand lives in its own module there.

use std::process::ExitCode;

use clap::Parser;
use xtask::{cancel, flags, paths};

/// Exit codes: 0 the command did its job and found nothing wrong; 1 it did
/// its job and the answer is bad (`compare --fail-on-regression` found a
/// regression, `detect` found a regression or missing data); 2 it could not
/// do its job (the error chain is printed once). `bisect --run` speaks
/// `git bisect run`'s codes (0, 1, 125, 128).
fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    match run(flags) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            // A command stopped by a signal exits as the shell expects: 128 + the signal.
            cancel::exit_code().map_or(ExitCode::from(2), ExitCode::from)
        }
    }
}

/// Runs a command; `Ok` carries its exit code (see the exit codes).
fn run(flags: flags::Xtask) -> anyhow::Result<u8> {
    let sh = xshell::Shell::new()?;
    let paths = paths::Paths::new(flags.global.config.as_deref())?;
    let done = |r: anyhow::Result<()>| r.map(|()| 0);
    let bad = |r: anyhow::Result<bool>| r.map(u8::from);
    match flags.cmd {
        flags::Cmd::Lock(cmd) => done(cmd.run(&sh, &paths)),
        flags::Cmd::Gen(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Build(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Bench(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Plan(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Results(cmd) => done(cmd.run(&sh, &paths)),
        flags::Cmd::Run(cmd) => bad(cmd.run()),
        flags::Cmd::Doctor(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Demo(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Compare(cmd) => bad(cmd.run(&paths)),
        flags::Cmd::Detect(cmd) => bad(cmd.run(&paths)),
        flags::Cmd::Noise(cmd) => done(cmd.run()),
        flags::Cmd::NoiseReport(cmd) => done(cmd.run()),
        flags::Cmd::DetectPower(cmd) => done(cmd.run()),
        flags::Cmd::Report(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Export(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Upload(cmd) => done(cmd.run(&sh, &paths)),
        flags::Cmd::HorreumSetup(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Reproduce(cmd) => bad(cmd.run(&paths)),
        flags::Cmd::Serve(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Job(cmd) => done(cmd.run(&paths)),
        flags::Cmd::Bisect(cmd) => cmd.run(&paths),
    }
}
